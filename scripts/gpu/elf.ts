/**
 * Just enough of ELF-64 (little-endian) to assemble a GPU bundle: the section table, the
 * shared libraries a file needs (DT_NEEDED), and the section holding CUDA fat binaries.
 *
 *   header ─▶ section headers ─▶ .dynamic + .dynstr ─▶ NEEDED names
 *                              └▶ .nv_fatbin (offset, size)
 */

export interface Section {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read as a little-endian u32
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const DT_NULL = 0n;
const DT_NEEDED = 1n;

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function cString(buf: Uint8Array, at: number): string {
  let end = at;
  while (end < buf.length && buf[end] !== 0) end++;
  return Buffer.from(buf.subarray(at, end)).toString('latin1');
}

/** The sections of an ELF-64 little-endian file; throws on anything else. */
export function sections(buf: Uint8Array): Section[] {
  const v = view(buf);
  if (buf.length < 64 || v.getUint32(0, true) !== ELF_MAGIC) throw new Error('not an ELF file');
  if (buf[4] !== ELFCLASS64 || buf[5] !== ELFDATA2LSB) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { nameAt: v.getUint32(at, true), offset: Number(v.getBigUint64(at + 0x18, true)), size: Number(v.getBigUint64(at + 0x20, true)) };
  });
  const names = raw[shstrndx];
  if (names === undefined) throw new Error('ELF file without a section-name table');
  return raw.map((s) => ({ name: cString(buf, names.offset + s.nameAt), offset: s.offset, size: s.size }));
}

export function section(buf: Uint8Array, name: string): Section | undefined {
  return sections(buf).find((s) => s.name === name);
}

/** The DT_NEEDED entries of the dynamic section, in file order. */
export function neededLibraries(buf: Uint8Array): string[] {
  const dynamic = section(buf, '.dynamic');
  const dynstr = section(buf, '.dynstr');
  if (dynamic === undefined || dynstr === undefined) return [];
  const v = view(buf);
  const out: string[] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = v.getBigInt64(at, true);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) out.push(cString(buf, dynstr.offset + Number(v.getBigUint64(at + 8, true))));
  }
  return out;
}
