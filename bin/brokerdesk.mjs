#!/usr/bin/env node
// The `brokerdesk` command. Runs the TypeScript sources directly through tsx, so a checkout needs no build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
