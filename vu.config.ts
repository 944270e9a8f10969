import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tests/deploy/**/*.test.ts'], environment: 'node', fileParallelism: false, pool: 'threads', isolate: false, sequence: { shuffle: false } } });
