/**
 * The documentation's relative links: README.md and every docs/*.md. Each link that is not a URL
 * (http:, https:, mailto:, any other scheme) must name a file or folder of the repository, and a
 * `#anchor` into a Markdown file must be one of that file's headings, slugged as GitHub does. Links in
 * code (fenced blocks, `inline spans`) are not links and are not checked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** README.md and docs/*.md, as paths relative to the repository. */
function documentationFiles(): string[] {
  const docs = existsSync(join(ROOT, 'docs'))
    ? readdirSync(join(ROOT, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', ...docs];
}

/** The text outside fenced code blocks, line by line (a fence may be indented, as in a list item). */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
    } else if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else {
      lines.push(line);
    }
  }
  return lines;
}

/** GitHub's heading anchor: lowercase, punctuation dropped (hyphens, underscores, spaces kept), spaces → hyphens. */
function slugify(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings; a repeated heading gets -1, -2, … as on GitHub. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const text = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    // a link in a heading shows only its text
    const slug = slugify(text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The targets of the inline and reference-style links outside code, URLs included. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      targets.push(match[1] ?? '');
    }
    const reference = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(prose)?.[1];
    if (reference !== undefined) targets.push(reference);
  }
  return targets;
}

const isUrl = (target: string): boolean => /^[a-z][a-z\d+.-]*:/i.test(target);

/** What is wrong with one relative link of `file`, or undefined when it holds. */
function brokenLink(file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), path));
  if (resolved.startsWith('..')) return `${file}: ${target} leaves the repository`;
  if (!existsSync(join(ROOT, resolved))) return `${file}: ${target} (${resolved} does not exist)`;
  if (anchor === undefined || !resolved.endsWith('.md')) return undefined;
  const anchors = headingAnchors(readFileSync(join(ROOT, resolved), 'utf8'));
  if (!anchors.has(anchor)) return `${file}: ${target} (no heading of ${resolved} has the anchor #${anchor})`;
  return undefined;
}

describe('GitHub heading anchors', () => {
  it('lowercases, drops punctuation and backticks, and turns each space into a hyphen', () => {
    expect(slugify("One node, one drain: the node's job")).toBe('one-node-one-drain-the-nodes-job');
    expect(slugify('Doctor: prove a deployed drainer before a node needs it (`npm run doctor`)')).toBe(
      'doctor-prove-a-deployed-drainer-before-a-node-needs-it-npm-run-doctor',
    );
    expect(slugify('Toolchain pins (Node 20 here, Lambda runs Node 22)')).toBe(
      'toolchain-pins-node-20-here-lambda-runs-node-22',
    );
    expect(slugify('The local cluster harness (`scripts/harness/`)')).toBe(
      'the-local-cluster-harness-scriptsharness',
    );
  });

  it('numbers a repeated heading and ignores headings inside fenced code', () => {
    const anchors = headingAnchors('# Title\n\n## Notes\n\n```bash\n# not a heading\n```\n\n## Notes\n');
    expect([...anchors]).toEqual(['title', 'notes', 'notes-1']);
  });
});

describe('link extraction', () => {
  it('finds inline and reference links, and none in fenced code or inline code spans', () => {
    const markdown = [
      'See [RBAC](docs/rbac.md#rbac) and [`rbac.yaml`](../infra/k8s/rbac.yaml "the grants").',
      'Not a link: `[x](nowhere.md)`; [site](https://example.com), [mail](mailto:a@example.com).',
      '```md',
      '[in code](missing.md)',
      '```',
      '[ref]: docs/how-it-works.md',
    ].join('\n');
    expect(linkTargets(markdown)).toEqual([
      'docs/rbac.md#rbac',
      '../infra/k8s/rbac.yaml',
      'https://example.com',
      'mailto:a@example.com',
      'docs/how-it-works.md',
    ]);
    expect(linkTargets(markdown).filter((target) => !isUrl(target))).toEqual([
      'docs/rbac.md#rbac',
      '../infra/k8s/rbac.yaml',
      'docs/how-it-works.md',
    ]);
  });
});

describe('documentation links', () => {
  const files = documentationFiles();

  it('reads README.md and the pages in docs/', () => {
    expect(files[0]).toBe('README.md');
    expect(files.length).toBeGreaterThan(1);
  });

  it('points every relative link of README.md and docs/*.md at a file that exists, and every #anchor at a heading', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const target of linkTargets(readFileSync(join(ROOT, file), 'utf8'))) {
        if (isUrl(target)) continue;
        checked++;
        const problem = brokenLink(file, target);
        if (problem !== undefined) broken.push(problem);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(files.length);
  });

  it('links every docs page from the README, and each page back to the README', () => {
    const readmeLinks = new Set(
      linkTargets(readFileSync(join(ROOT, 'README.md'), 'utf8')).map((target) => target.split('#')[0]),
    );
    for (const page of files.slice(1)) {
      expect(readmeLinks, `README.md links ${page}`).toContain(page);
      expect(linkTargets(readFileSync(join(ROOT, page), 'utf8')), `${page} links back`).toContain(
        '../README.md',
      );
    }
  });
});
