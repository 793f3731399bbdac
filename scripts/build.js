#!/usr/bin/env node
// Builds every app of the monorepo into dist/apps/<app>/main.js (Nest CLI, webpack), and the
// ops console into dist/console/ (Vite); `node scripts/build.js dashboard-service` builds only
// the apps named (`console` names the console).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ALL = ['gateway', 'card-service', 'points-service', 'dashboard-service', 'webhook-service'];
const CONSOLE = 'console';
const asked = process.argv.slice(2);
for (const a of asked) {
  if (!ALL.includes(a) && a !== CONSOLE) {
    console.error(`unknown app "${a}" (one of ${[...ALL, CONSOLE].join(', ')})`);
    process.exit(2);
  }
}
const APPS = asked.length ? asked.filter((a) => a !== CONSOLE) : ALL;
const nest = path.join(__dirname, '..', 'node_modules', '.bin', 'nest');
for (const app of APPS) {
  process.stdout.write(`building ${app}\n`);
  execFileSync(nest, ['build', app], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
}
if (!asked.length || asked.includes(CONSOLE)) {
  process.stdout.write(`building ${CONSOLE}\n`);
  const vite = path.join(__dirname, '..', 'node_modules', '.bin', 'vite');
  execFileSync(vite, ['build', '--config', 'apps/console/vite.config.ts'], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
}
