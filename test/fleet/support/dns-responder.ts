/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1, answering A and SRV queries from a
 * zone the test edits. It speaks the real wire protocol (RFC 1035, SRV per RFC 2782), so the
 * code under test resolves through node:dns / c-ares exactly as it would against CoreDNS.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

const TYPE_A = 1;
const TYPE_SRV = 33;
const CLASS_IN = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export class TestDnsServer {
  readonly #socket: Socket;
  readonly #a = new Map<string, string[]>();
  readonly #srv = new Map<string, SrvRecord[]>();
  /** What to do with queries: answer from the zone, answer SERVFAIL, or drop them (timeout). */
  mode: 'answer' | 'servfail' | 'drop' = 'answer';
  /** Number of queries received, per `type:name`. */
  readonly queries = new Map<string, number>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (message, remote) => this.#onQuery(message, remote));
  }

  static async start(): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new TestDnsServer(socket);
  }

  /** `127.0.0.1:port`, for `Resolver#setServers`. */
  get address(): string {
    return `127.0.0.1:${this.#socket.address().port}`;
  }

  /** Sets (or with undefined, deletes) the A records of a name. */
  setA(name: string, addresses: readonly string[] | undefined): void {
    if (addresses === undefined) this.#a.delete(normalize(name));
    else this.#a.set(normalize(name), [...addresses]);
  }

  /** Sets (or with undefined, deletes) the SRV records of a name. */
  setSrv(name: string, records: readonly SrvRecord[] | undefined): void {
    if (records === undefined) this.#srv.delete(normalize(name));
    else this.#srv.set(normalize(name), [...records]);
  }

  queryCount(type: 'A' | 'SRV', name: string): number {
    return this.queries.get(`${type}:${normalize(name)}`) ?? 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onQuery(message: Buffer, remote: RemoteInfo): void {
    if (message.length < 12) return;
    const questionCount = message.readUInt16BE(4);
    if (questionCount < 1) return;
    const { name, end } = readName(message, 12);
    const type = message.readUInt16BE(end);
    const question = message.subarray(12, end + 4);
    const key = `${type === TYPE_A ? 'A' : type === TYPE_SRV ? 'SRV' : String(type)}:${name}`;
    this.queries.set(key, (this.queries.get(key) ?? 0) + 1);
    if (this.mode === 'drop') return;

    const answers: Buffer[] = [];
    let rcode = 0;
    if (this.mode === 'servfail') {
      rcode = RCODE_SERVFAIL;
    } else if (!this.#a.has(name) && !this.#srv.has(name)) {
      rcode = RCODE_NXDOMAIN;
    } else if (type === TYPE_A) {
      for (const address of this.#a.get(name) ?? []) {
        answers.push(resourceRecord(TYPE_A, Buffer.from(address.split('.').map(Number))));
      }
    } else if (type === TYPE_SRV) {
      for (const record of this.#srv.get(name) ?? []) {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(record.priority, 0);
        fixed.writeUInt16BE(record.weight, 2);
        fixed.writeUInt16BE(record.port, 4);
        answers.push(resourceRecord(TYPE_SRV, Buffer.concat([fixed, encodeName(record.target)])));
      }
    }

    const header = Buffer.alloc(12);
    message.copy(header, 0, 0, 2); // id
    const recursionDesired = (message[2] as number) & 0x01;
    header[2] = 0x84 | recursionDesired; // QR, AA
    header[3] = 0x80 | rcode; // RA
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    this.#socket.send(Buffer.concat([header, question, ...answers]), remote.port, remote.address);
  }
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  for (;;) {
    const length = message[position] as number;
    if (length === 0) return { name: normalize(labels.join('.')), end: position + 1 };
    labels.push(message.toString('latin1', position + 1, position + 1 + length));
    position += 1 + length;
  }
}

function encodeName(name: string): Buffer {
  const parts = normalize(name)
    .split('.')
    .filter((label) => label !== '')
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** An answer whose owner name points back at the question (offset 12). */
function resourceRecord(type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0);
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(CLASS_IN, 4);
  fixed.writeUInt32BE(5, 6); // TTL
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}
