import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web application: built into web/dist and served by the API process (src/http/web.ts). `npm run dev:web` proxies
// /api to a running API on :8080 for front-end work.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
