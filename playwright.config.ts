import { defineConfig } from '@playwright/test';

// Browser tests run in Debian's Chromium (apt-get install chromium), never a downloaded browser, with
// WebGPU on SwiftShader (software Vulkan): see ../shared/webgpu-testing.md.
const port = 4173;
export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run',
        '--disable-sync', '--disable-quic',
        '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader',
      ],
    },
  },
  webServer: {
    command: `node scripts/serve.mjs . ${port}`,
    url: `http://127.0.0.1:${port}/e2e/pages/esm.html`,
    reuseExistingServer: !process.env.CI,
  },
});
