import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by Tessera at /console/ (see src/platform/http/console.ts): hashed files under assets/, no inline
// script or style (the server's Content-Security-Policy forbids both), no source maps in the build.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
});
