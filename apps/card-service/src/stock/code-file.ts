import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ReadableStream as WebReadableStream } from 'node:stream/web';

/** The file server said the file is not there or not for us (HTTP 4xx): trying again will not help. */
export class CodeFileRefusedError extends Error {}

/** Reads an import file line by line from an http(s) URL, without holding it in memory. */
export async function* linesFromUrl(url: string, timeoutMs = 60_000): AsyncGenerator<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status >= 400 && res.status < 500) throw new CodeFileRefusedError(`generate_file ${url} answered HTTP ${res.status}`);
  if (!res.ok || !res.body) throw new Error(`generate_file ${url} answered HTTP ${res.status}`);
  const lines = createInterface({ input: Readable.fromWeb(res.body as unknown as WebReadableStream), crlfDelay: Infinity });
  for await (const line of lines) yield line;
}
