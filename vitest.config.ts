import { defineConfig } from 'vitest/config';

// Kernel and engine tests run in Node on Dawn (the `webgpu` package) over the SwiftShader Vulkan driver
// that Debian's chromium package installs: software WebGPU, correct but slow, so shapes stay small.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    env: {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json',
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', // silences a Vulkan loader warning
    },
  },
});
