// The studio builds to web/dist, which `tkllm serve` serves at /; in `vite dev` the API is proxied to a
// `tkllm serve` on port 8080.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/v1': api, '/docs': api, '/metrics': api } },
});
