#!/usr/bin/env node
// The `bitstorm` command: runs the compiled CLI (npm install builds it via `prepare`).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2), process.env).catch((err) => {
  console.error('bitstorm:', err instanceof Error ? err.message : err);
  process.exit(1);
});
