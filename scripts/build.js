#!/usr/bin/env node
// Builds every app of the monorepo into dist/apps/<app>/main.js (Nest CLI, webpack).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const APPS = ['gateway', 'card-service', 'points-service', 'dashboard-service'];
const nest = path.join(__dirname, '..', 'node_modules', '.bin', 'nest');
for (const app of APPS) {
  process.stdout.write(`building ${app}\n`);
  execFileSync(nest, ['build', app], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
}
