/**
 * CUDA fat binaries inside a shared library (.nv_fatbin): a run of containers, each a header
 * followed by entries (one machine-code image or PTX text per GPU architecture).
 *
 *   container: u32 magic 0xBA55ED50 · u16 version · u16 header size · u64 entries size
 *   entry:     u16 kind (1 PTX, 2 ELF cubin) · u16 version · u32 header size · u64 payload size
 *              · … · u32 architecture at byte 28 (e.g. 90 for sm_90) · payload
 *
 * onnxruntime's CUDA provider carries images for six GPU generations (~230 MB); a host needs
 * only its own. Zeroing the payloads of the others keeps every header, offset and symbol in
 * place (the CUDA runtime still parses the containers, and picks the image of its GPU), and
 * makes the file compress to a fraction. Containers are 8-byte aligned; padding is skipped.
 */

const CONTAINER_MAGIC = 0xba55ed50;
const ARCH_OFFSET = 28;

export interface FatbinEntry {
  readonly kind: 'ptx' | 'cubin' | 'other';
  readonly arch: number;
  /** Byte offset and size of the payload in the buffer. */
  readonly offset: number;
  readonly size: number;
}

/** Every entry of the containers in buf[start, start + length). */
export function fatbinEntries(buf: Uint8Array, start: number, length: number): FatbinEntry[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = start + length;
  const out: FatbinEntry[] = [];
  let p = start;
  while (p + 16 <= end) {
    if (v.getUint32(p, true) !== CONTAINER_MAGIC) {
      p += 8;
      continue;
    }
    const headerSize = v.getUint16(p + 6, true);
    const entriesEnd = p + headerSize + Number(v.getBigUint64(p + 8, true));
    if (entriesEnd > end) throw new Error(`fat binary container at ${p} runs past its section`);
    let q = p + headerSize;
    while (q < entriesEnd) {
      const kind = v.getUint16(q, true);
      const entryHeader = v.getUint32(q + 4, true);
      const size = Number(v.getBigUint64(q + 8, true));
      if (entryHeader < ARCH_OFFSET + 4 || q + entryHeader + size > entriesEnd) throw new Error(`malformed fat binary entry at ${q}`);
      out.push({ kind: kind === 1 ? 'ptx' : kind === 2 ? 'cubin' : 'other', arch: v.getUint32(q + ARCH_OFFSET, true), offset: q + entryHeader, size });
      q += entryHeader + size;
    }
    p = entriesEnd;
  }
  return out;
}

/** Zero (in place) the payload of every entry whose architecture is not kept; returns bytes zeroed. */
export function keepArchitectures(buf: Uint8Array, start: number, length: number, keep: ReadonlySet<number>): { zeroed: number; kept: number } {
  let zeroed = 0;
  let kept = 0;
  for (const e of fatbinEntries(buf, start, length)) {
    if (keep.has(e.arch)) kept += e.size;
    else {
      buf.fill(0, e.offset, e.offset + e.size);
      zeroed += e.size;
    }
  }
  return { zeroed, kept };
}
