// The table of a live cycle's result (live-cycle.mjs), as lines: printed
// by test 202 in the guest and by `npm run demo` on the host from the
// guest's JSON. No imports, so the host can load it without the addon.

const MiB = 1 << 20;
const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;
const yes = (b) => (b ? 'yes' : 'NO');

/** Rows of [cells] as aligned text; numbers right-aligned. */
function align(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (/^[\d.]/.test(c) ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd());
}

export function liveTable(r) {
  const rows = [['point', 'backup', 'read', 'stored', 'time', 'rate', 'restored', 'time', 'e2fsck -fn', 'bytes = image', 'files = snapshot']];
  for (const p of r.points) {
    const rs = p.restore;
    rows.push([
      String(p.n),
      p.kind,
      mib(p.readBytes),
      mib(p.storedBytes),
      `${p.backupSeconds.toFixed(1)} s`,
      `${(p.readBytes / MiB / p.backupSeconds).toFixed(1)} MiB/s`,
      mib(rs.bytesWritten),
      `${rs.seconds.toFixed(1)} s`,
      rs.fsck,
      yes(rs.bytesMatch),
      `${yes(rs.diff.count === 0)} (${rs.files}/${p.files}${rs.diff.count ? `, ${rs.diff.count} differ` : ''})`,
    ]);
  }
  const lines = align(rows);
  const inc = r.points.find((p) => p.changedBytes !== undefined);
  if (inc)
    lines.push(
      '',
      `change tracking: ${mib(inc.changedBytes)} changed in ${inc.changedRanges} range(s) of ${inc.cbt.blockSize / 1024} KiB blocks; ` +
        `${mib(inc.readBound)} in ${r.chunkSize / 1024} KiB chunks; the incremental read ${mib(inc.readBytes)} of the ${mib(r.diskBytes)} disk`,
    );
  lines.push(
    `writer (running through both snapshots and backups: ${yes(r.points.every((p) => p.writerRunning))}): ${r.writer.ops} operations, ${mib(r.writer.bytes)} written ` +
      `(${r.writer.appends} appends, ${r.writer.overwrites} overwrites, ${r.writer.created} files created, ${r.writer.deleted} deleted, ${r.writer.fsyncs} fsyncs)`,
    `copy-on-write while each snapshot was held: ${r.points.map((p) => mib(p.snapshot.storageUsedBytes)).join(', ')}; corrupted: ${r.points.some((p) => p.snapshot.corrupted) ? 'YES' : 'no'}`,
    `the two snapshots' files differ: ${yes(r.snapshotsDiffer)}; repository ${r.encrypted ? 'encrypted' : 'not encrypted'}, verify --data: ${r.verify.ok ? 'ok' : 'DAMAGED'} (${r.verify.checkedChunks} chunks)`,
  );
  for (const p of r.points) for (const d of p.restore.diff.first) lines.push(`point ${p.n} differs: ${d}`);
  return lines;
}

/** Whether everything the cycle shows came out right (for exit statuses). */
export function liveOk(r) {
  return r.verify.ok && r.points.every((p) => p.restore.fsck === 'clean' && p.restore.bytesMatch && p.restore.diff.count === 0 && !p.snapshot.corrupted);
}
