// Checks of the web UI's pure functions, run by web_test.go with node (no browser, no DOM).
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'static');
const A = require(path.join(dir, 'app.js'));
const LANG = {
  en: require(path.join(dir, 'i18n', 'en.js')),
  es: require(path.join(dir, 'i18n', 'es.js')),
  ar: require(path.join(dir, 'i18n', 'ar.js')),
};
const S = LANG.en;
let checks = 0;
function check(name, fn) {
  try {
    fn();
    checks++;
  } catch (e) {
    console.error('FAIL ' + name + ': ' + (e.stack || e));
    process.exitCode = 1;
  }
}

const now = Date.parse('2026-03-01T12:00:00Z');
const iso = (offsetMs) => new Date(now + offsetMs).toISOString();
const H = 3600e3;
const EVIL = '<img src=x onerror=alert(1)>"\'><script>alert(2)</script>&';

function post(over) {
  return Object.assign({
    id: 'p1', group: 'g1', kind: 'need', title: 'Coats', details: 'size L', category: 'clothes',
    location: 'Hall', quantity: 4, urgency: 'normal', expires: '', contact: '555', status: 'open',
    author: '12D3KooWabcdefghijklmnop', author_name: 'Ana', created_at: iso(-2 * H), updated_at: iso(-H),
    expired: false, over_claimed: false, claimed_quantity: 0, responses: [],
  }, over);
}
const evilPost = () => post({
  id: EVIL, group: EVIL, kind: EVIL, title: EVIL, details: EVIL, category: EVIL, location: EVIL, quantity: EVIL,
  urgency: EVIL, expires: EVIL, contact: EVIL, status: EVIL, author: EVIL, author_name: EVIL, created_at: EVIL,
  updated_at: EVIL, claimed_quantity: EVIL, over_claimed: true,
  responses: [{ id: EVIL, author: EVIL, author_name: EVIL, quantity: EVIL, note: EVIL, created_at: EVIL }],
});
const evilGroups = [{ id: EVIL, name: EVIL, role: EVIL }, { id: 'g2', name: EVIL, role: 'admin' }];
// evilFollowed: an own group and a followed one (refused, for a reason the remote node wrote).
const evilFollowed = [{ id: 'g2', name: EVIL, role: 'admin' }, { id: EVIL, name: EVIL, role: 'follower', refused: EVIL },
  { id: 'g3', name: EVIL, role: 'follower', helps: ['g2', EVIL] }];
const ctx = { groups: evilGroups, cats: [EVIL, 'food'], group: EVIL, now, tab: 'need',
  node: { peer_id: EVIL, name: EVIL, groups: evilGroups, meeting: true } };

// Every HTML the views can produce, with hostile text in every field.
function allViews() {
  const lists = A.boardLists([evilPost(), post({ kind: 'offer' })], { status: 'all' }, now);
  return {
    card: A.card(evilPost(), now),
    board: A.viewBoard({ q: EVIL, group: EVIL, kind: '', category: EVIL, status: 'active', urgency: '' }, ctx) + lists.need + lists.offer,
    post: A.viewPost(evilPost(), ctx),
    newPost: A.viewNew(Object.assign({}, ctx, { kind: EVIL })),
    group: A.viewGroup(ctx) + A.membersTable({ id: EVIL, name: EVIL, members: [{ id: EVIL, name: EVIL, role: EVIL }] }) +
      A.inviteResult(EVIL) + A.importResult({ imported: EVIL, duplicates: EVIL, completed: EVIL, completed_rows: [EVIL, EVIL], errors: [{ row: EVIL, error: EVIL }],
        groups: [{ id: EVIL, name: EVIL, imported: EVIL, duplicates: EVIL }, { id: EVIL, imported: 2 }] }),
    peers: A.viewPeers([{ peer_id: EVIL, name: EVIL, connected: true, last_synced: EVIL, last_seen: iso(-3 * 60e3) }], now),
    phonePost: A.viewPost(Object.assign(evilPost(), { by: EVIL, yours: true,
      responses: [{ id: EVIL, author: EVIL, author_name: EVIL, quantity: 1, note: EVIL, created_at: EVIL, by: EVIL, yours: true }] }), phoneCtx('')),
    phoneNew: A.viewNew(Object.assign(phoneCtx(''), { kind: 'need' })),
    phoneGroup: A.viewGroup(phoneCtx(EVIL)),
    welcome: A.viewWelcome(Object.assign({}, ctx, { node: { name: EVIL, peer_id: EVIL, groups: [] } })) +
      A.viewGroup(Object.assign({}, ctx, { node: { name: EVIL, groups: [] } })),
    followed: A.viewBoard({ q: EVIL, fgroup: EVIL, status: 'active' }, Object.assign({}, ctx, { groups: evilFollowed, scope: 'followed' })) +
      A.card(evilPost(), now, evilFollowed) + A.viewPost(evilPost(), Object.assign({}, ctx, { groups: evilFollowed })) +
      A.viewGroup(Object.assign({}, ctx, { groups: evilFollowed, node: { name: EVIL, groups: evilFollowed } })) +
      A.groupList(evilFollowed, 'g2') + A.shareResult(EVIL) + A.followForm() +
      A.fedBox({ federation: { policy: EVIL, allies: [EVIL, 'g2'], blocked: [EVIL] } }, evilFollowed) +
      A.peersTable([{ peer_id: EVIL, name: EVIL, connected: true, via: EVIL }], now),
    // Help across boards: a followed group's need, a visitor's response with its group and contact.
    visitor: A.card(post({ group: 'gf', title: EVIL }), now, followedGroups(EVIL)) +
      A.viewPost(post({ group: 'gf', responses: [{ id: EVIL, author: EVIL, author_name: EVIL, quantity: 2, note: EVIL, created_at: EVIL,
        visitor: true, contact: EVIL, group: { id: EVIL, name: EVIL } }] }), Object.assign({}, ctx, { groups: followedGroups(EVIL) })),
    groups: A.groupList(evilGroups, EVIL) + A.card(evilPost(), now, evilGroups) +
      A.peersTable([{ peer_id: EVIL, name: EVIL, connected: true, syncing: { done: EVIL, total: 5 } }], now),
  };
}
// followedGroups are a node's groups: two of its own and gf, which it follows (named name).
function followedGroups(name) {
  return [{ id: 'g1', name: 'Riverside', role: 'admin' }, { id: 'g2', name: 'Eastgate', role: 'member' }, { id: 'gf', name, role: 'follower' }];
}
// phoneCtx is ctx as a phone at a meeting sees it, with the name it gave ('' for none yet).
function phoneCtx(name) {
  return Object.assign({}, ctx, { session: { phone: true, name } });
}

check('esc', () => {
  assert.equal(A.esc('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  assert.equal(A.esc(null), '');
  assert.equal(A.esc(undefined), '');
  assert.equal(A.esc(0), '0');
});

check('no markup injection in any view', () => {
  for (const [name, html] of Object.entries(allViews())) {
    assert.ok(!/<script/i.test(html), name + ': raw <script');
    assert.ok(!/<img src=x/i.test(html), name + ': raw <img');
    // Every tag the views emit must be free of event-handler attributes and of stray quotes.
    for (const tag of html.match(/<[a-z][^>]*>/gi)) {
      const bare = tag.replace(/="[^"]*"/g, '=""');
      assert.ok(!/\son\w+\s*=/i.test(bare), name + ': handler attribute in ' + tag);
      assert.ok(!/=[^"]/.test(bare), name + ': unquoted attribute in ' + tag);
    }
  }
});

check('every control has a label', () => {
  for (const [name, html] of Object.entries(allViews())) {
    for (const tag of html.match(/<(input|select|textarea)\b[^>]*>/gi) || []) {
      if (/type="(hidden|submit|button)"/.test(tag) || /aria-label(ledby)?=/.test(tag)) continue;
      const id = (tag.match(/\sid="([^"]+)"/) || [])[1];
      assert.ok(id, name + ': control without id: ' + tag);
      assert.ok(html.includes(`<label for="${id}">`), name + ': no label for #' + id);
    }
  }
});

check('post form fields are named like the API', () => {
  const html = A.viewNew(Object.assign({}, ctx, { kind: 'need' }));
  for (const f of ['kind', 'title', 'details', 'category', 'location', 'quantity', 'urgency', 'expires', 'contact', 'group']) {
    assert.ok(new RegExp(`name="${f}"`).test(html), 'missing field ' + f);
  }
  assert.ok(/name="expires"[^>]*type="datetime-local"/.test(html));
  const one = A.viewNew(Object.assign({}, ctx, { groups: [{ id: 'g', name: 'G', role: 'admin' }] }));
  assert.ok(!/name="group"/.test(one), 'group select shown for a single group');
});

check('i18n: every key used exists', () => {
  const src = fs.readFileSync(path.join(dir, 'app.js'), 'utf8');
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  const used = new Set();
  for (const m of src.matchAll(/\bt[eu]?\('(\w+)'\s*[,)]/g)) used.add(m[1]);
  for (const m of src.matchAll(/\btn\('(\w+)'/g)) used.add(m[1] + '_one').add(m[1] + '_other');
  for (const k of ['need', 'offer']) used.add('liveNew_' + k);
  for (const m of src.matchAll(/\b(?:field|heading|row)\([^,()]*,\s*'(\w+)'/g)) used.add(m[1]);
  for (const m of html.matchAll(/data-i18n(?:-label)?="(\w+)"/g)) used.add(m[1]);
  for (const k of ['need', 'offer']) used.add('kind_' + k).add(k + 's');
  for (const s of ['open', 'claimed', 'fulfilled', 'withdrawn']) used.add('status_' + s).add('set_' + s);
  for (const u of ['low', 'normal', 'high']) used.add('urg_' + u);
  for (const k of used) assert.ok(Object.prototype.hasOwnProperty.call(S, k), 'missing i18n key ' + k);
  // And no English text hides in the HTML shell (the language switch's options are made by app.js).
  const text = html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  assert.equal(text, 'mutual');
});

check('filters: expired hidden unless asked, expiring soon, over-claimed', () => {
  const ps = [
    post({ id: 'a' }),
    post({ id: 'b', expires: iso(-H) }),
    post({ id: 'c', expired: true }),
    post({ id: 'd', status: 'fulfilled' }),
    post({ id: 'e', kind: 'offer', expires: iso(5 * H), over_claimed: true }),
    post({ id: 'f', status: 'claimed', urgency: 'high', category: 'food', title: 'Hot MEALS' }),
  ];
  const ids = (f) => ps.filter((p) => A.matches(p, f, now, String(f.q || '').toLowerCase().split(/\s+/).filter(Boolean))).map((p) => p.id).join('');
  assert.equal(ids({ status: 'active' }), 'aef');
  assert.equal(ids({ status: 'open' }), 'ae');
  assert.equal(ids({ status: 'expired' }), 'bc');
  assert.equal(ids({ status: 'all' }), 'abcdef');
  assert.equal(ids({ status: 'fulfilled' }), 'd');
  assert.equal(ids({ status: 'active', kind: 'offer' }), 'e');
  assert.equal(ids({ status: 'active', category: 'food' }), 'f');
  assert.equal(ids({ status: 'active', urgency: 'high' }), 'f');
  assert.equal(ids({ status: 'all', q: 'hot meals' }), 'f');
  assert.equal(ids({ status: 'all', q: 'hall ana' }), 'abcdef');
  assert.ok(A.expiringSoon(ps[4], now));
  assert.ok(!A.expiringSoon(post({ expires: iso(49 * H) }), now));
  assert.ok(!A.expiringSoon(ps[1], now));
  const c = A.card(ps[4], now);
  assert.ok(c.includes('b-soon') && c.includes('Expires in 5 hours'), c);
  assert.ok(c.includes('b-over'), c);
  const lists = A.boardLists(ps, { status: 'active' }, now);
  assert.equal(lists.nNeed, 2);
  assert.equal(lists.nOffer, 1);
  assert.ok(lists.need.indexOf('id="p-f"') < lists.need.indexOf('id="p-a"'), 'urgent first');
});

check('times', () => {
  assert.equal(A.ago(iso(-3 * 60e3), now), '3 minutes ago');
  assert.equal(A.ago(iso(-3 * 24 * H), now), '3 days ago');
  assert.equal(A.until(iso(90 * 60e3), now), 'in 2 hours');
  assert.equal(A.ago('', now), 'never');
  assert.equal(A.ago('0001-01-01T00:00:00Z', now), 'never');
  assert.equal(A.toRFC3339(''), '');
  const local = A.toLocalInput('2026-03-04T10:30:00Z');
  assert.match(local, /^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
  assert.equal(A.toRFC3339(local), '2026-03-04T10:30:00Z');
  assert.match(A.toRFC3339('2026-03-04'), /^2026-03-0[45]T\d\d:59:00Z$/);
});

check('postBody', () => {
  const v = A.formValues({});
  Object.assign(v, { kind: 'offer', title: ' Van ', quantity: '2', group: 'g1' });
  assert.deepEqual(A.postBody(v), { group: 'g1', kind: 'offer', title: 'Van', quantity: 2, urgency: 'normal' });
  const p = post({ expires: '2026-03-04T10:30:00Z' });
  const orig = A.formValues(p), edited = Object.assign({}, orig, { title: 'Coats!', quantity: '', expires: '' });
  assert.deepEqual(A.postBody(edited, orig), { title: 'Coats!', quantity: 0, expires: '' });
  assert.deepEqual(A.postBody(Object.assign({}, orig), orig), {});
});

check('phones: names, and only their own to change', () => {
  assert.equal(A.author(post()), 'Ana');
  assert.equal(A.author(post({ by: 'Sam' })), 'Sam, via Ana');
  assert.ok(A.card(post({ by: 'Sam' }), now).replace(/<[^>]*>/g, '').includes('by Sam, via Ana'));
  const theirs = post({ by: 'Lee', yours: false, responses: [
    { id: 'r1', author: 'k', author_name: 'Ana', quantity: 1, note: '', created_at: iso(-H), by: 'Lee', yours: false },
    { id: 'r2', author: 'k', author_name: 'Ana', quantity: 2, note: '', created_at: iso(-H), by: 'Sam', yours: true }] });
  const named = phoneCtx('Sam');
  let h = A.viewPost(theirs, named);
  const text = h.replace(/<[^>]*>/g, '');
  assert.ok(text.includes('Lee, via Ana') && text.includes('Sam, via Ana'), h);
  assert.ok(!h.includes('data-act="status"') && !h.includes('id="edit"'), 'a phone may not change a post it did not make');
  assert.equal((h.match(/data-act="unrespond"/g) || []).length, 1, 'only its own response can be taken back');
  assert.ok(h.includes('data-rid="r2"'));
  assert.ok(!h.includes('name="by"'), 'a phone with a name is not asked again');
  h = A.viewPost(Object.assign(post(), { yours: true }), named);
  assert.ok(h.includes('data-act="status"') && h.includes('id="edit"'), 'a phone may change its own post');
  h = A.viewPost(post(), ctx);
  assert.ok(h.includes('data-act="status"') && h.includes('id="edit"'), 'the organiser may change any post');
  // A phone without a name is asked for one where it writes.
  assert.ok(/<input id="help-by" name="by"[^>]* required/.test(A.viewPost(post(), phoneCtx(''))));
  assert.ok(/<input id="new-by" name="by"[^>]* required/.test(A.viewNew(Object.assign(phoneCtx(''), { kind: 'need' }))));
  assert.ok(!A.viewNew(Object.assign({}, ctx, { kind: 'need' })).includes('name="by"'));
  // Its group page has no organiser's tools.
  h = A.viewGroup(named);
  assert.ok(h.includes('id="whoami"') && !h.includes('id="invite"') && !h.includes('id="import"') && !h.includes('data-act="revoke"'), h);
});

check('groups: welcome, list, switch, invite for admins, card labels', () => {
  const fresh = Object.assign({}, ctx, { node: { name: 'vm', peer_id: 'p', groups: [] } });
  let h = A.viewWelcome(fresh);
  assert.ok(/<input id="ob-name" name="name" value="vm"[^>]* required/.test(h), 'the name is asked, with the current one');
  assert.ok(h.includes('id="start"') && h.includes('id="join"') && /<textarea id="join-code" name="code"/.test(h), h);
  assert.ok(!h.includes('mutual group create'), 'no command line on the page');
  assert.equal(A.viewGroup(fresh), h, 'a node in no group gets the welcome on its group page');
  const gs = [{ id: 'aaaaaaaa11', name: 'Eastgate', role: 'admin' }, { id: 'bbbbbbbb22', name: 'Northside', role: 'member' },
    { id: 'cccccccc33', name: 'Riverside', role: 'pending' }];
  const two = (group) => Object.assign({}, ctx, { group, groups: gs, node: { name: 'Amal', groups: gs } });
  h = A.viewGroup(two('aaaaaaaa11'));
  assert.ok(/<li aria-current="true"><strong id="gn-0" dir="auto">Eastgate<\/strong> <span class="meta">admin · /.test(h), h);
  assert.ok(/data-act="pick" data-group="bbbbbbbb22"/.test(h) && /data-act="pick" data-group="cccccccc33"/.test(h));
  assert.ok(!/data-act="pick" data-group="aaaaaaaa11"/.test(h), 'the group shown has no switch');
  assert.ok(h.includes('id="invite"'), 'an admin can invite');
  assert.ok(h.includes('id="start"') && h.includes('id="join"'), 'another group can be started or joined');
  h = A.viewGroup(two('bbbbbbbb22'));
  assert.ok(!h.includes('id="invite"') && h.includes('Only the group'), 'a member is told to ask an admin');
  h = A.viewGroup(two('cccccccc33'));
  assert.ok(h.includes('joining') && h.includes('Waiting to reach a member of \u201cRiverside\u201d'), h);
  // A card names its group only when the board shows several.
  const p = post({ group: 'bbbbbbbb22' });
  assert.ok(A.card(p, now, gs).includes('<span class="badge b-group" dir="auto">Northside</span>'));
  assert.ok(!A.card(p, now).includes('b-group'));
  const lists = A.boardLists([p], { status: 'active' }, now, gs);
  assert.ok(lists.need.includes('b-group'));
  // Over-claimed: marked on the card too.
  const over = A.card(post({ quantity: 4, claimed_quantity: 6, over_claimed: true }), now);
  assert.ok(over.includes('b-over') && over.includes('quantity 4, 6 pledged') && /class="card[^"]* over"/.test(over), over);
});

check('inviteCode: the code, in a link or a message', () => {
  const code = 'mutual1-AbC_d-09';
  assert.equal(A.inviteCode(code), code);
  assert.equal(A.inviteCode('  ' + code + '\n'), code);
  assert.equal(A.inviteCode('http://192.168.1.20:7777/join?code=' + code), code);
  assert.equal(A.inviteCode('Join us! ' + code + ' (valid 3 days)'), code);
  assert.equal(A.inviteCode('http://x/?c=' + encodeURIComponent('<' + code + '>')), code);
  assert.equal(A.inviteCode('mutual1'), '');
  assert.equal(A.inviteCode(''), '');
  assert.equal(A.inviteCode('%E0%A4%A'), '');
});

check('syncing N of M', () => {
  assert.equal(A.syncing([{ connected: true }]), null);
  assert.deepEqual(A.syncing([{ syncing: { done: 10, total: 100 } }, { syncing: { done: 5, total: 20 } }, {}]), { done: 15, total: 120 });
  assert.equal(A.statusText(true, [{ connected: true, syncing: { done: 120, total: 5000 } }]), '1 peer connected · syncing 120 of 5,000');
  assert.equal(A.statusText(false, [{ connected: true, syncing: { done: 1, total: 2 } }]), '1 peer connected · offline');
  assert.ok(A.peersTable([{ peer_id: 'x', connected: true, syncing: { done: 3, total: 9 } }], now).includes('Connected · syncing 3 of 9'));
});

check('statusText', () => {
  assert.equal(A.statusText(true, [{ connected: true }, { connected: false }]), '1 peer connected · in sync');
  assert.equal(A.statusText(false, []), '0 peers connected · offline');
});

check('5,000 posts render fast', () => {
  const ps = [];
  for (let i = 0; i < 5000; i++) {
    ps.push(post({ id: 'id' + i, kind: i % 2 ? 'offer' : 'need', title: 'Post ' + i, category: 'c' + (i % 20),
      urgency: ['low', 'normal', 'high'][i % 3], created_at: iso(-i * 60e3), expires: i % 7 ? '' : iso((i + 1) * 60e3) }));
  }
  const t0 = process.hrtime.bigint();
  let r;
  for (let k = 0; k < 5; k++) r = A.boardLists(ps, { status: 'active', q: k % 2 ? 'post 1' : '' }, now);
  const msPer = Number(process.hrtime.bigint() - t0) / 1e6 / 5;
  r = A.boardLists(ps, { status: 'active' }, now);
  assert.equal(r.nNeed + r.nOffer, 5000);
  // About 40 ms on a laptop. The bound is loose on purpose (a busy CI machine must not fail it);
  // it catches a quadratic render, not a slow one.
  console.log(`boardLists, 5,000 posts: ${msPer.toFixed(1)} ms`);
  assert.ok(msPer < 2000, `boardLists took ${msPer.toFixed(1)} ms`);
});

// ---- following -------------------------------------------------------------------------------

// followGroups: Eastgate (this node's own), Harbour and Riverside (followed; Harbour refuses it).
const followGroups = () => [{ id: 'aaaaaaaa11', name: 'Eastgate', role: 'admin' },
  { id: 'hhhhhhhh22', name: 'Harbour', role: 'follower', refused: 'this group accepts followers from its allies only' },
  { id: 'rrrrrrrr33', name: 'Riverside', role: 'follower' }];
const text = (h) => h.replace(/<[^>]*>/g, '');

check('followCode: a code, in a message or link, or a group ID', () => {
  const code = 'mutualf1-AbC_d-09';
  const id = 'ab'.repeat(32);
  assert.equal(A.followCode(code), code);
  assert.equal(A.followCode('Follow Riverside: ' + code + ' (from Amal)'), code);
  assert.equal(A.followCode('http://x/?f=' + encodeURIComponent('<' + code + '>')), code);
  assert.equal(A.followCode(id), id);
  assert.equal(A.followCode('  group ' + id.toUpperCase() + '\n'), id);
  assert.equal(A.followCode(id + 'a'), '', '65 hex digits are no ID');
  assert.equal(A.followCode('mutual1-AbC'), '', 'an invite code is no follow code');
  assert.equal(A.followCode(''), '');
  assert.equal(A.followCode('%E0%A4%A'), '');
});

check('following: the followed groups\' board, read-only, every card named, no contact', () => {
  const gs = followGroups();
  const c = { groups: gs, cats: [], now, tab: 'need', node: { name: 'Amal', groups: gs } };
  const own = A.viewBoard({ status: 'active' }, c);
  assert.ok(own.includes('href="#/followed"') && text(own).includes('Followed groups (2)'), 'the own board links the followed one');
  assert.ok(own.includes('href="#/new"') && !own.includes('id="fl-group"'), 'one own group: no group filter');
  const fol = A.viewBoard({ status: 'active', fgroup: 'rrrrrrrr33' }, Object.assign({}, c, { scope: 'followed' }));
  assert.ok(/<h1[^>]*>Followed groups<\/h1>/.test(fol), fol);
  assert.ok(/<a class="button" href="#\/followed" aria-current="page">/.test(fol), 'the switch marks the view');
  assert.ok(!fol.includes('href="#/new"'), 'no New post on boards the node cannot write');
  assert.ok(/<select id="fl-group" name="fgroup">/.test(fol) && fol.includes('All followed groups'), fol);
  assert.ok(/<option value="rrrrrrrr33" selected/.test(fol) && !fol.includes('value="aaaaaaaa11"'), 'only followed groups to choose');
  // The groups each board shows.
  const ps = [post({ id: 'e', group: 'aaaaaaaa11', title: 'Own' }), post({ id: 'r', group: 'rrrrrrrr33', title: 'Theirs', location: undefined, contact: undefined })];
  const only = (ids) => new Set(ids);
  assert.equal(A.boardLists(ps, { status: 'active', only: only(['aaaaaaaa11']) }, now).nNeed, 1);
  const fl = A.boardLists(ps, { status: 'active', only: only(['hhhhhhhh22', 'rrrrrrrr33']) }, now, gs);
  assert.ok(fl.nNeed === 1 && fl.need.includes('Theirs') && fl.need.includes('<span class="badge b-group" dir="auto">Riverside</span>'), fl.need);
  // A followed card and post never show a location or contact, even if one came; the post is read-only.
  const leaky = post({ group: 'rrrrrrrr33', location: 'SECRET-L', contact: 'SECRET-C' });
  assert.ok(!A.card(leaky, now, gs).includes('SECRET'), 'a followed card shows a location');
  const pv = A.viewPost(leaky, c);
  assert.ok(!pv.includes('SECRET'), 'a followed post shows its contact or location');
  assert.ok(!pv.includes('data-act="status"') && !pv.includes('id="edit"'), 'a followed post has status or edit controls');
  assert.ok(text(pv).includes('You follow Riverside: its board is read-only here'), text(pv));
  const mine = A.viewPost(post({ group: 'aaaaaaaa11' }), c);
  assert.ok(mine.includes('data-act="status"') && mine.includes('id="edit"') && mine.includes('555'), 'an own post lost its controls');
});

check('importResult: a sheet with a Group column says what went to each group', () => {
  const h = A.importResult({ imported: 3, duplicates: 1, groups: [{ id: 'aaaaaaaa11', name: 'Eastgate', imported: 2, duplicates: 1 }, { id: 'rrrrrrrr33', name: 'Riverside', imported: 1 }] });
  assert.ok(text(h).includes('Eastgate: imported 2, already there 1') && text(h).includes('Riverside: imported 1, already there 0'), text(h));
});

check('following: the Group page lists followed groups, refusals, share, follow, federation', () => {
  const gs = followGroups();
  const c = (group) => ({ groups: gs, group, now, node: { name: 'Amal', groups: gs } });
  let h = A.viewGroup(c('aaaaaaaa11'));
  assert.ok(/data-act="unfollow" data-group="hhhhhhhh22"/.test(h) && /data-act="unfollow" data-group="rrrrrrrr33"/.test(h), 'Stop following');
  assert.ok(!/data-act="unfollow" data-group="aaaaaaaa11"/.test(h), 'an own group cannot be unfollowed');
  assert.ok(text(h).includes('Harbour accepts followers from its allies only.'), 'the refusal, named');
  assert.ok(text(h).includes('following') && h.includes('id="share-out"') && h.includes('id="follow"') && h.includes('id="fed"'), h);
  h = A.viewGroup(c('rrrrrrrr33'));
  assert.ok(!h.includes('id="invite"') && !h.includes('id="import"') && !h.includes('id="fed"'), 'a followed group has no invites, import or federation');
  assert.ok(h.includes('id="share-out"') && text(h).includes('This node follows \u201cRiverside\u201d: its board is read-only here.'), h);
  assert.equal(A.refusedText({ id: 'x', name: 'Harbour', refused: 'too many followers' }), 'Harbour refused this node: too many followers');
  // A group followed because its members answered our needs says so, and offers no "Stop following".
  const helping = gs.map((g) => (g.id === 'rrrrrrrr33' ? Object.assign({}, g, { helps: ['aaaaaaaa11'] }) : g));
  h = A.groupList(helping, 'aaaaaaaa11');
  assert.ok(!/data-act="unfollow" data-group="rrrrrrrr33"/.test(h) && /data-act="unfollow" data-group="hhhhhhhh22"/.test(h), h);
  assert.ok(text(h).includes('Followed because its members answered the needs of Eastgate:') && text(h).includes('an admin blocks it first'), text(h));
  // Share: the code to copy and its QR.
  const sh = A.shareResult('mutualf1-abc');
  assert.ok(/<textarea id="share-code" readonly[^>]*>mutualf1-abc<\/textarea>/.test(sh) && sh.includes('/api/v1/invites/qr.png?code=mutualf1-abc'), sh);
  // Federation: the policy chosen, allies named when known, else a short ID.
  const far = 'f'.repeat(64);
  const fb = A.fedBox({ federation: { policy: 'allies', allies: ['rrrrrrrr33', far], blocked: [] } }, gs);
  assert.ok(/id="fed-allies" name="policy" value="allies" checked/.test(fb) && !/id="fed-open"[^>]* checked/.test(fb), fb);
  assert.ok(text(fb).includes('Allies (2)') && text(fb).includes('Riverside') && text(fb).includes('ffffff…ffffff'), text(fb));
  assert.ok(/data-act="unally" data-group="rrrrrrrr33"/.test(fb) && text(fb).includes('No group is blocked.'));
  assert.ok(fb.includes('id="addally"') && fb.includes('id="addblock"'));
  assert.ok(/id="fed-open" name="policy" value="open" checked/.test(A.fedBox({ federation: {} }, gs)), 'open by default');
  // Peers: how each is reached.
  assert.ok(A.peersTable([{ peer_id: 'x', connected: true, via: 'relayed' }], now).includes('Connected · through a relay'));
  assert.ok(A.peersTable([{ peer_id: 'x', connected: true, via: 'lan' }], now).includes('Connected · on this network'));
  assert.ok(A.peersTable([{ peer_id: 'x', connected: false, via: '' }], now).includes('Not connected</td>'));
});

// ---- languages -------------------------------------------------------------------------------

const PLURAL = /^(.*)_(zero|one|two|few|many|other)$/;
const holes = (s) => Array.from(String(s).matchAll(/\{(\w+)\}/g), (m) => m[1]).sort();

check('i18n: es and ar have every key of en, with the same placeholders', () => {
  assert.deepEqual(Object.keys(A.LANGS).sort(), Object.keys(LANG).sort(), 'LANGS in app.js and the files in static/i18n/');
  for (const [l, T] of Object.entries(LANG)) {
    assert.equal(T._lang, l, l + '.js: _lang');
    assert.ok(T._dir === 'ltr' || T._dir === 'rtl', l + '.js: _dir');
    for (const k of Object.keys(S)) {
      const pl = PLURAL.exec(k);
      if (pl && pl[2] !== 'other' && pl[2] !== 'one') continue;
      assert.ok(Object.prototype.hasOwnProperty.call(T, k), `${l}.js lacks the key ${k} (${JSON.stringify(S[k])})`);
      assert.equal(typeof T[k], 'string', `${l}.js: ${k} is not a string`);
      if (pl) continue; // checked below
      assert.deepEqual(holes(T[k]), holes(S[k]), `${l}.js: ${k} has placeholders ${holes(T[k])}, en has ${holes(S[k])}`);
    }
    for (const k of Object.keys(T)) {
      const pl = PLURAL.exec(k);
      if (!pl) {
        assert.ok(Object.prototype.hasOwnProperty.call(S, k), `${l}.js has the key ${k}, which en.js lacks`);
        continue;
      }
      // A plural form of a key en has: its placeholders are among en's (Arabic's "one" and "two"
      // forms say the number in words).
      assert.ok(Object.prototype.hasOwnProperty.call(S, pl[1] + '_other'), `${l}.js: plural ${k} of a key en.js lacks`);
      for (const h of holes(T[k])) assert.ok(holes(S[pl[1] + '_other']).includes(h), `${l}.js: ${k} has {${h}}, en has not`);
    }
  }
});

// The check above, on a broken copy: it must catch a missing key and a changed placeholder.
check('i18n: the parity check finds what is wrong', () => {
  const bad = Object.assign({}, LANG.es);
  delete bad.publish;
  bad.qty = 'cantidad {q}';
  const missing = Object.keys(S).filter((k) => !PLURAL.test(k) && !(k in bad));
  assert.deepEqual(missing, ['publish']);
  assert.notDeepEqual(holes(bad.qty), holes(S.qty));
});

check('languages: choosing one, plurals, Intl', () => {
  assert.equal(A.pickLang('', ['es-MX', 'en']), 'es');
  assert.equal(A.pickLang('', ['fr-FR', 'ar-EG']), 'ar');
  assert.equal(A.pickLang('', ['fr', 'de']), 'en');
  assert.equal(A.pickLang('ar', ['es']), 'ar', 'the switch wins over the browser');
  assert.equal(A.pickLang('xx', ['es']), 'es', 'a saved language the page lacks is ignored');
  try {
    assert.equal(A.setLang('es'), 'es');
    assert.equal(A.statusText(true, [{ connected: true }]), '1 nodo conectado · sincronizado');
    assert.equal(A.ago(iso(-3 * 60e3), now), 'hace 3 minutos');
    assert.equal(A.setLang('ar'), 'ar');
    assert.equal(A.statusText(false, [{ connected: true }, { connected: true }]), 'عقدتان متصلتان · غير متصل');
    assert.ok(A.statusText(false, [1, 2, 3].map(() => ({ connected: true }))).includes('عُقد'), 'Arabic "few" plural');
    assert.equal(A.t('qty', { n: 1234 }), 'الكمية ' + new Intl.NumberFormat('ar').format(1234));
    // A key a language lacks falls back to English, not to the key's name.
    assert.equal(A.t('appName'), 'mutual');
    const h = A.viewPost(post({ title: 'معاطف شتوية' }), ctx);
    assert.ok(h.includes('التفاصيل') && h.includes('أستطيع المساعدة'), 'the post page in Arabic');
    assert.equal(A.setLang('xx'), 'en');
  } finally {
    A.setLang('en');
  }
});

check('dir="auto" on every element that shows text a person wrote', () => {
  const MARK = 'ZQXW';
  const mk = (over) => post(Object.assign({ title: MARK + 't', details: MARK + 'd', category: MARK + 'c', location: MARK + 'l',
    contact: MARK + 'k', author_name: MARK + 'a', by: MARK + 'b',
    responses: [{ id: 'r1', author: 'k', author_name: MARK + 'ra', by: MARK + 'rb', quantity: 1, note: MARK + 'n', created_at: iso(-H) }] }, over));
  const gs = [{ id: 'g1', name: MARK + 'g', role: 'admin' }, { id: 'g2', name: MARK + 'h', role: 'member' }];
  const c = { groups: gs, cats: [MARK + 'c'], group: 'g1', now, tab: 'need', node: { peer_id: 'x', name: MARK + 'node', groups: gs } };
  const html = A.card(mk(), now) + A.viewPost(mk(), c) + A.viewBoard({ status: 'active' }, c) + A.viewGroup(c) +
    A.membersTable({ id: 'g1', members: [{ id: 'm', name: MARK + 'm', role: 'member' }] }) +
    A.peersTable([{ peer_id: 'p', name: MARK + 'p', connected: true }], now);
  // Each run of user text must sit directly in an element with dir="auto", or in a link that is
  // all of such an element (a card's title: the heading has dir="auto", and the link must not, or
  // the heading would skip its text when it finds its direction).
  let n = 0;
  for (const m of html.matchAll(new RegExp(`(<[a-z0-9]+[^>]*>)?<([a-z0-9]+)([^>]*)>([^<]*${MARK}[^<]*)<`, 'g'))) {
    n++;
    const ok = /\sdir="auto"/.test(m[3]) || (m[2] === 'a' && /\sdir="auto"/.test(m[1] || ''));
    assert.ok(ok, `user text ${JSON.stringify(m[4])} in ${m[1] || ''}<${m[2]}${m[3]}> without dir="auto"`);
  }
  assert.ok(n >= 15, `only ${n} runs of user text found`);
  for (const m of html.matchAll(/<(input|textarea)\b[^>]*>/g)) {
    if (/type="(number|datetime-local|file|search)"|readonly|id="(inv-code|join-code|follow-code|addally-code|addblock-code)"/.test(m[0])) continue;
    assert.ok(/\sdir="auto"/.test(m[0]), 'a text field without dir="auto": ' + m[0]);
  }
});

check('help across boards: "I can help" on a followed group\'s need, answers from another group', () => {
  const gs = followedGroups('Harbour');
  const text = (h) => h.replace(/<[^>]*>/g, '');
  assert.ok(text(A.card(post({ group: 'gf' }), now, gs)).includes(S.canHelp), 'no "I can help" on a followed need');
  for (const p of [post({ group: 'g1' }), post({ group: 'gf', kind: 'offer' }), post({ group: 'gf', status: 'fulfilled' })]) {
    assert.ok(!A.card(p, now, gs).includes('class="button small"'), 'an "I can help" button on ' + p.group + ' ' + p.kind + ' ' + p.status);
  }
  const c = Object.assign({}, ctx, { groups: gs });
  const followed = A.viewPost(post({ group: 'gf' }), c);
  assert.ok(/<input id="help-contact" name="contact"/.test(followed), 'no contact field for a followed need');
  assert.ok(text(followed).includes('Only Harbour’s members can read it.'), text(followed));
  assert.ok(/<select id="help-as" name="as_group"/.test(followed), 'no group to answer as, with two own groups');
  const own = A.viewPost(post({ group: 'g1' }), c);
  const helpOf = (h) => h.slice(h.indexOf('id="help"'), h.indexOf('</form>', h.indexOf('id="help"')));
  assert.ok(!/name="contact"/.test(helpOf(own)), 'a contact field on the node\'s own group\'s post');
  const withResp = A.viewPost(post({ group: 'g1', responses: [{ id: 'r1', author: 'k', author_name: 'Rita', quantity: 4, note: 'we have 4', created_at: iso(-H),
    visitor: true, contact: '555-0123', group: { id: 'gr', name: 'Riverside' } }] }), c);
  assert.ok(text(withResp).includes('Rita · from Riverside · quantity 4'), text(withResp));
  assert.ok(text(withResp).includes('Contact: 555-0123'), text(withResp));
});

if (!process.exitCode) console.log(`ok: ${checks} checks`);
