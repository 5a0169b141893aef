#!/usr/bin/env node
// The installed command: runs the built bundle (never tsx; see README, "Start-up").
import '../dist/cli.js';
