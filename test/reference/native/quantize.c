/*
 * llama.cpp's own quantizer as a command for the tests: `quantize IN OUT FTYPE [requantize]` calls
 * llama_model_quantize from the prebuilt libllama that node-llama-cpp ships, with the default parameters
 * (so the per-tensor type mixes and fallbacks are exactly those of published files). With `requantize`
 * already-quantized tensors are converted too; FTYPE 0 (all F32) then dequantizes every tensor with ggml's
 * own to_float. Built on first use by test/reference/llamacpp_quantize.ts against the llama.h of the
 * llama.cpp that node-llama-cpp was built from.
 */
#include <stdio.h>
#include <stdlib.h>
#include "llama.h"

int main(int argc, char ** argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE [requantize]\n", argv[0]);
        return 2;
    }
    llama_backend_init();
    struct llama_model_quantize_params params = llama_model_quantize_default_params();
    params.ftype = (enum llama_ftype) atoi(argv[3]);
    params.nthread = 1;
    params.allow_requantize = argc == 5;
    const uint32_t rc = llama_model_quantize(argv[1], argv[2], &params);
    llama_backend_free();
    return rc == 0 ? 0 : 1;
}
