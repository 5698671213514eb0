import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API to a running backend: DAYU_BACKEND=http://127.0.0.1:PORT npm run dev
const backend = process.env.DAYU_BACKEND ?? "http://127.0.0.1:8900";

export default defineConfig({
  plugins: [vue()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { "/api": { target: backend, changeOrigin: true } },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts", "tests/**/*.test.mjs"],
  },
});
