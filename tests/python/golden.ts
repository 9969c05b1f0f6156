// The TypeScript half of the cross-language golden test: every case of golden-cases.json goes through the
// real SDK (uploadRows with the case's schema) to a capturing HTTP server on 127.0.0.1, and the exact request
// body it sent (binary COPY, or NDJSON for tables with a type the encoder lacks) is written with the case.
// clients/python/tests/test_golden.py sends the same rows through the Python client and compares the bytes,
// and that both refuse the same rows at the same row and column.
// Usage: npx tsx tests/python/golden.ts OUT.json
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { uploadRows, UploadRowError, type TableSchema } from '../../ingest/client';

type Tagged = unknown;
interface GoldenCase {
  name: string;
  objects?: boolean;
  columns: [string, string, number][];
  rows: Tagged[];
}

/** A tagged JSON value as the JS value it stands for (Python-only tags become the text TypeScript is given). */
export function untag(v: Tagged): unknown {
  if (Array.isArray(v)) return v.map(untag);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const arg = o[keys[0]];
    switch (keys[0]) {
      case '$bigint':
        return BigInt(arg as string);
      case '$float':
        return Number(arg as string);
      case '$date':
        return new Date(arg as string);
      case '$repeat': {
        const [s, n] = arg as [string, number];
        return s.repeat(n);
      }
      case '$nest': {
        let x: unknown[] = [];
        for (let i = 1; i < (arg as number); i++) x = [x];
        return x;
      }
      case '$pyuuid':
      case '$pydate':
      case '$pynaive':
      case '$pyaware':
        return arg;
    }
  }
  return Object.fromEntries(keys.map((k) => [k, untag(o[k])]));
}

function schemaOf(c: GoldenCase): TableSchema {
  return {
    table: 'golden',
    columns: c.columns.map(([name, type, typeOid]) => ({ name, type, typeOid, nullable: true })),
  };
}

async function main(out: string): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden-cases.json'), 'utf8')) as {
    cases: GoldenCase[];
    refusals: GoldenCase[];
  };
  let body: Buffer = Buffer.alloc(0);
  let contentType = '';
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      body = Buffer.concat(parts);
      contentType = String(req.headers['content-type']);
      const answer = JSON.stringify({ uploadId: 'golden', table: 'golden', rows: 0, bytes: body.length });
      res.writeHead(201, { 'Content-Type': 'application/json' }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = (c: GoldenCase) =>
    uploadRows(endpoint, 'golden-token', 'golden', untag(c.rows) as never, {
      schema: schemaOf(c),
      columns: c.columns.map(([name]) => name),
      retry: { maxAttempts: 1 },
    });
  try {
    const cases = [];
    for (const c of spec.cases) {
      await send(c);
      cases.push({ name: c.name, contentType, body: body.toString('base64') });
    }
    const refusals = [];
    for (const c of spec.refusals) {
      const err = await send(c).then(
        () => new Error(`${c.name}: the TypeScript SDK accepted it`),
        (e: unknown) => e,
      );
      if (!(err instanceof UploadRowError)) throw err;
      refusals.push({ name: c.name, row: err.row, column: err.column ?? null, message: err.message });
    }
    fs.writeFileSync(out, JSON.stringify({ cases, refusals }, null, 1));
  } finally {
    server.close();
  }
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: npx tsx tests/python/golden.ts OUT.json\n');
    process.exit(2);
  }
  main(out).catch((err: unknown) => {
    process.stderr.write(`golden.ts: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
