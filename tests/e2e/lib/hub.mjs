// A loopback stand-in for the Hugging Face Hub's file route (`/{org}/{name}/resolve/{rev}/{path}`),
// sending each file in pieces with a pause between them, so a download's progress can be seen.

import http from "node:http";

export async function startHub({ pieceBytes = 256 * 1024, pauseMs = 25 } = {}) {
  const files = new Map();
  const requests = [];
  const server = http.createServer(async (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const match = request.url.match(/^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/);
    const body = match && files.get(`${match[1]}/${decodeURIComponent(match[2])}`);
    if (!body) {
      response.writeHead(404, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ error: "Entry not found" }));
      return;
    }
    const range = (request.headers.range || "").match(/^bytes=(\d+)-$/);
    const from = range ? Number(range[1]) : 0;
    response.writeHead(range ? 206 : 200, {
      "Content-Type": "application/octet-stream",
      "Content-Length": body.length - from,
      ...(range ? { "Content-Range": `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    for (let at = from; at < body.length; at += pieceBytes) {
      if (!response.write(body.subarray(at, at + pieceBytes))) await new Promise((r) => response.once("drain", r));
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      if (response.destroyed) return;
    }
    response.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    put(repo, path, bytes) {
      files.set(`${repo}/${path}`, Buffer.from(bytes));
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
