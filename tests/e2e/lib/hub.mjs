// A loopback stand-in for the Hugging Face Hub: its file route
// (`/{org}/{name}/resolve/{rev}/{path}`), sending each file in pieces with a pause between them
// so a download's progress can be seen (`hub.pacing` can be changed between downloads), and for
// whole repositories (`putRepo`) the API routes Murmur's model fetch reads: the revision
// (`/api/models/{repo}/revision/main`) and the file tree with each file's size and sha256.

import http from "node:http";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export async function startHub({ pieceBytes = 256 * 1024, pauseMs = 25 } = {}) {
  const files = new Map();
  const repos = new Map();
  const requests = [];
  const pacing = { pieceBytes, pauseMs };
  const json = (response, status, body) => {
    response.writeHead(status, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body));
  };
  const server = http.createServer(async (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const api = request.url.match(/^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/?]+)/);
    if (api) {
      const repo = repos.get(api[1]);
      if (!repo) return json(response, 404, { error: "Repository not found" });
      return api[2] === "revision" ? json(response, 200, { id: api[1], sha: repo.sha }) : json(response, 200, repo.tree);
    }
    const match = request.url.match(/^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/);
    const body = match && files.get(`${match[1]}/${decodeURIComponent(match[2])}`);
    if (!body) return json(response, 404, { error: "Entry not found" });
    const range = (request.headers.range || "").match(/^bytes=(\d+)-$/);
    const from = range ? Number(range[1]) : 0;
    response.writeHead(range ? 206 : 200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": body.length - from,
      ...(range ? { "Content-Range": `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    for (let at = from; at < body.length; at += pacing.pieceBytes) {
      if (!response.write(body.subarray(at, at + pacing.pieceBytes))) await new Promise((r) => response.once("drain", r));
      if (pacing.pauseMs) await new Promise((r) => setTimeout(r, pacing.pauseMs));
      if (response.destroyed) return;
    }
    response.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    pacing,
    put(repo, path, bytes) {
      files.set(`${repo}/${path}`, Buffer.from(bytes));
    },
    /** Serve every file of folder `dir` as repository `repo` (large files as LFS objects). */
    putRepo(repo, dir) {
      const tree = [];
      for (const name of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, name));
        files.set(`${repo}/${name}`, bytes);
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        const blob = createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
        tree.push({ type: "file", path: name, size: bytes.length, oid: blob, lfs: { oid: sha256, size: bytes.length } });
      }
      repos.set(repo, { sha: createHash("sha1").update(repo).digest("hex"), tree });
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
