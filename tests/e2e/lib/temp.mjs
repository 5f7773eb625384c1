// Temporary folders for one test file's run, all inside one parent that is removed when the
// process exits — passed or failed — so a run leaves nothing in /tmp.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const parent = mkdtempSync(join(tmpdir(), "murmur-e2e-"));
process.on("exit", () => rmSync(parent, { recursive: true, force: true }));

/** A new empty folder named `<prefix>…` inside this run's parent. */
export function tempDir(prefix = "murmur-") {
  return mkdtempSync(join(parent, prefix));
}
