// SPDX-License-Identifier: Apache-2.0
// graphile-worker as bench/queue.sh runs it next to kwg: one task, `sh`, whose handler spawns
// `/bin/sh -c <payload.cmd>` with child_process, as kwg's Process runner runs a shell task. A job
// whose payload has a key appends "<key> <its stdout>" to OUT (the latency runs print the clock).
// usage: node graphile.js CONCURRENCY OUT   (PGHOST, PGPORT, PGUSER, PGDATABASE: the database)
"use strict";
const { run } = require("graphile-worker");
const { Pool } = require("pg");
const { spawn } = require("child_process");
const fs = require("fs");

const concurrency = Number(process.argv[2] || 16);
const out = fs.createWriteStream(process.argv[3] || "/dev/null", { flags: "a" });

function sh(payload) {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", payload.cmd], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (payload.key) out.write(`${payload.key} ${stdout.trim()}\n`);
      if (code === 0) resolve();
      else reject(new Error(`exit code ${code}`));
    });
  });
}

async function main() {
  const pgPool = new Pool({ max: concurrency + 2 });
  pgPool.on("error", (err) => console.error("pool:", err.message));
  const runner = await run({ pgPool, concurrency, taskList: { sh } });
  console.log("ready");
  await runner.promise;
  await pgPool.end();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
