// The K-quant and IQ4_XS file types where they are used as named: a synthetic qwen2 model whose widths are
// multiples of 256 (test/reference/llamacpp_files.ts), quantized by llama.cpp, through the public API on our
// kernels. See ./file_types.ts. (The 32-value types these files also hold are the fortunes suite's.)
import { wideSynthetic } from '../reference/llamacpp_files';
import { fileTypeSuite } from './file_types';
import { SYNTHETIC_PROMPTS } from './synthetic_models';

fileTypeSuite('synthetic qwen2 (width 256)', {
  base: () => wideSynthetic().path,
  eos: () => wideSynthetic().eos,
  prompts: SYNTHETIC_PROMPTS,
  fileTypes: ['Q4_K_M', 'Q5_K_M', 'Q3_K_M', 'Q2_K', 'IQ4_XS', 'Q6_K'],
  mustContain: {
    Q4_K_M: ['Q4_K', 'Q6_K'], Q5_K_M: ['Q5_K', 'Q6_K'], Q3_K_M: ['Q3_K', 'Q4_K', 'Q5_K'], Q2_K: ['Q2_K', 'Q3_K'],
    IQ4_XS: ['IQ4_XS'], Q6_K: ['Q6_K'],
  },
});
