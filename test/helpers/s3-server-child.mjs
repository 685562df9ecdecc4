// A local S3-compatible server (s3rver) for tests, in a process of its own so a test can kill it
// mid-upload. Serves S3_DIR on 127.0.0.1:S3_PORT (0: any) with the bucket S3_BUCKET and prints
// {"port": n} once listening. s3rver's default credentials: S3RVER / S3RVER.
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
process.on('SIGTERM', () => process.exit(0));
