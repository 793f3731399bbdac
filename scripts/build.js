#!/usr/bin/env node
// Builds every app of the monorepo into dist/apps/<app>/main.js (Nest CLI, webpack);
// `node scripts/build.js dashboard-service` builds only the apps named.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ALL = ['gateway', 'card-service', 'points-service', 'dashboard-service', 'webhook-service'];
const asked = process.argv.slice(2);
for (const a of asked) {
  if (!ALL.includes(a)) {
    console.error(`unknown app "${a}" (one of ${ALL.join(', ')})`);
    process.exit(2);
  }
}
const APPS = asked.length ? asked : ALL;
const nest = path.join(__dirname, '..', 'node_modules', '.bin', 'nest');
for (const app of APPS) {
  process.stdout.write(`building ${app}\n`);
  execFileSync(nest, ['build', app], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
}
