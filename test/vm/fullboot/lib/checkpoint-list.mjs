// `snapkeep-boot checkpoint list` as the full-boot tests read it: a line
// per checkpoint, TAB-separated key=value fields (the last, name=, may
// hold '=').

/** The checkpoint lines of the tool's output. @param {string} out */
export function checkpointLines(out) {
	return out.split('\n').filter((x) => x.startsWith('store='));
}

/** One line's fields by key. @param {string} line */
export function checkpointFields(line) {
	return Object.fromEntries(line.split('\t').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
}

/** The first checkpoint's fields; throws when the list has none. @param {string} out */
export function firstCheckpoint(out) {
	const l = checkpointLines(out)[0];
	if (!l)
		throw new Error(`checkpoint list printed no checkpoint:\n${out}`);
	return checkpointFields(l);
}
