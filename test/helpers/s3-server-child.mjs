// A local S3-compatible server (s3rver) for tests, in a process of its own so a test can kill it
// mid-upload. Serves S3_DIR on 127.0.0.1:S3_PORT (0: any) with the bucket S3_BUCKET and prints
// {"port": n} once listening, then {"request": {method, path, range}} for each request as it
// arrives (so a test can count the downloads of an object). s3rver's default credentials:
// S3RVER / S3RVER.
import S3rver from 's3rver';

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(process.env.S3_PORT ?? 0),
  silent: true,
  directory: process.env.S3_DIR,
  configureBuckets: [{ name: process.env.S3_BUCKET }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
server.httpServer.on('request', (req) => {
  const path = decodeURIComponent(new URL(req.url, 'http://s3').pathname);
  const request = { method: req.method, path, range: req.headers.range ?? null };
  process.stdout.write(`${JSON.stringify({ request })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
