// The eleven commonly published llama.cpp file types of the fortunes-1.8m model (width 192, not a multiple
// of 256, so llama.cpp falls back per tensor: its Q4_K_M is mostly Q5_0, its IQ4_XS mostly IQ4_NL, as for
// Qwen2.5-0.5B, SmolLM2 or Gemma-3-270M), through the public API on our kernels. See ./file_types.ts.
import { LLAMACPP_FILE_TYPES, FORTUNES_F32 } from '../reference/llamacpp_files';
import { fileTypeSuite } from './file_types';
import { heldoutIds, promptSet } from './fixtures';

fileTypeSuite('fortunes-1.8m', {
  base: () => FORTUNES_F32,
  eos: () => 1023,
  prompts: promptSet(),
  fileTypes: LLAMACPP_FILE_TYPES,
  heldout: () => heldoutIds().slice(0, 1025), // 1024 predictions in windows of 128
  mustContain: {
    Q4_K_M: ['Q5_0', 'Q4_K', 'Q6_K', 'Q8_0'], Q5_K_M: ['Q5_1', 'Q5_K'], Q3_K_M: ['Q4_0', 'Q5_0', 'Q5_1', 'Q4_K'],
    Q2_K: ['Q3_K', 'Q4_0'], IQ4_XS: ['IQ4_NL', 'IQ4_XS'], IQ4_NL: ['IQ4_NL'], Q4_1: ['Q4_1'], Q5_0: ['Q5_0'],
    Q5_1: ['Q5_1'], BF16: ['BF16'], Q6_K: ['Q6_K', 'Q8_0'],
  },
});
