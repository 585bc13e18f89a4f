/* mutual web UI: a single-page app in plain JavaScript over the JSON API under /api/v1.
 *
 * Routes (location.hash): #/ board, #/post/{id} post page, #/new post form, #/group group page,
 * #/peers peers page.
 *
 * Rule for the whole file: every value that reaches HTML goes through esc() (or te(), which
 * translates and escapes). View functions are pure (data in, HTML string out) so that
 * testdata/app_test.js can check them under node; the DOM wiring is at the bottom and runs only in a
 * browser. All user-visible text comes from i18n/{en,es,ar}.js (English is always loaded, as the
 * fallback; another language is loaded when chosen). Numbers, dates and relative times go through
 * Intl in the chosen language. Every element that shows text a person wrote has dir="auto", so that
 * an Arabic title reads right to left on an English page and a Latin one left to right in Arabic.
 */
(function () {
  'use strict';
  /* global I18N */
  // LANGS are the languages of the page, each in its own name (shown in the language switch).
  const LANGS = { en: 'English', es: 'Español', ar: 'العربية' };
  const L10N = typeof I18N !== 'undefined' ? I18N
    : { en: require('./i18n/en.js'), es: require('./i18n/es.js'), ar: require('./i18n/ar.js') };
  const own = (o, k) => !!o && Object.prototype.hasOwnProperty.call(o, k);
  let S = L10N.en, lang = 'en', F10 = null;

  // setLang makes lang (a key of LANGS whose strings are loaded) the language of every string,
  // number and date from now on; an unknown or unloaded one gives English.
  function setLang(l) {
    lang = own(LANGS, l) && L10N[l] ? l : 'en';
    S = L10N[lang];
    F10 = {
      num: new Intl.NumberFormat(lang),
      plural: new Intl.PluralRules(lang),
      rel: new Intl.RelativeTimeFormat(lang, { numeric: 'always' }),
      date: new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }),
    };
    return lang;
  }
  setLang('en');
  // pickLang chooses the page's language: the one saved by the switch, else the first of the
  // browser's languages (e.g. navigator.languages ["es-MX", "en"]) that the page has, else English.
  function pickLang(saved, prefs) {
    if (own(LANGS, saved)) return saved;
    for (const p of prefs || []) {
      const base = String(p).toLowerCase().split('-')[0];
      if (own(LANGS, base)) return base;
    }
    return 'en';
  }

  // ---- text ----------------------------------------------------------------------------------

  const num = (n) => F10.num.format(n);
  // t returns the string with id in the chosen language (English if it lacks one), with {name}
  // placeholders filled from v; numbers are written the chosen language's way.
  function t(id, v) {
    const s = own(S, id) ? S[id] : own(L10N.en, id) ? L10N.en[id] : id;
    if (!v) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (v[k] == null ? m : typeof v[k] === 'number' ? num(v[k]) : String(v[k])));
  }
  // tn is t for a count n: it picks the plural form id_one, id_few, … that the language uses for n.
  function tn(id, n, v) {
    const f = id + '_' + F10.plural.select(n);
    return t(own(S, f) || own(L10N.en, f) ? f : id + '_other', Object.assign({ n }, v));
  }
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  // esc makes any value safe inside HTML text and double-quoted attributes.
  function esc(s) {
    return s == null ? '' : String(s).replace(/[&<>"']/g, (c) => ESC[c]);
  }
  function te(id, v) {
    return esc(t(id, v));
  }
  // u shows text a person wrote (a title, a name): escaped, in an element with dir="auto", so that it
  // reads in its own direction whatever the page's.
  function u(s) {
    return s == null || s === '' ? '' : `<span dir="auto">${esc(s)}</span>`;
  }
  // tu is te with values that are already HTML (made with u(), or other tu() calls).
  function tu(id, v) {
    return t(id).split(/(\{\w+\})/).map((part) => {
      const k = /^\{(\w+)\}$/.exec(part);
      if (!k || v[k[1]] == null) return esc(part);
      return typeof v[k[1]] === 'number' ? esc(num(v[k[1]])) : v[k[1]];
    }).join('');
  }
  // tv translates an enum value (e.g. a role) if the UI knows it, else shows it as is.
  function tv(prefix, v) {
    const s = t(prefix + v);
    return s === prefix + v ? String(v || '') : s;
  }
  function short(id) {
    id = id == null ? '' : String(id);
    return id.length > 16 ? id.slice(0, 6) + '…' + id.slice(-6) : id;
  }

  // ---- time ----------------------------------------------------------------------------------

  const MIN = 60e3, HOUR = 3600e3, DAY = 86400e3, SOON = 48 * HOUR;
  // ms parses an RFC3339 time; empty and Go zero times give NaN.
  function ms(iso) {
    if (!iso) return NaN;
    const n = Date.parse(iso);
    return n > 0 ? n : NaN;
  }
  function ago(iso, now) {
    const x = ms(iso);
    if (isNaN(x)) return t('never');
    const d = Math.max(0, now - x);
    if (d < 45e3) return t('justNow');
    if (d < HOUR) return F10.rel.format(-(Math.round(d / MIN) || 1), 'minute');
    if (d < 2 * DAY) return F10.rel.format(-Math.round(d / HOUR), 'hour');
    return F10.rel.format(-Math.round(d / DAY), 'day');
  }
  function until(iso, now) {
    const d = ms(iso) - now;
    if (d < HOUR) return F10.rel.format(Math.max(1, Math.round(d / MIN)), 'minute');
    if (d < 2 * DAY) return F10.rel.format(Math.round(d / HOUR), 'hour');
    return F10.rel.format(Math.round(d / DAY), 'day');
  }
  function when(iso) {
    const x = ms(iso);
    return isNaN(x) ? '' : F10.date.format(new Date(x));
  }
  const pad = (n) => String(n).padStart(2, '0');
  // toLocalInput turns an RFC3339 time into a datetime-local value.
  function toLocalInput(iso) {
    const x = ms(iso);
    if (isNaN(x)) return '';
    const d = new Date(x);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  // toRFC3339 turns a date or datetime-local value (local time) into RFC3339 in UTC.
  function toRFC3339(v) {
    if (!v) return '';
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += 'T23:59';
    const d = new Date(v);
    return isNaN(d) ? v : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  // ---- posts ---------------------------------------------------------------------------------

  const KINDS = ['need', 'offer'];
  const STATUSES = ['open', 'claimed', 'fulfilled', 'withdrawn'];
  const URGENCIES = ['low', 'normal', 'high'];
  const URG = { high: 0, normal: 1, low: 2 };
  const FIELDS = ['kind', 'title', 'details', 'category', 'location', 'quantity', 'urgency', 'expires', 'contact'];
  const known = (list, v, dflt) => (list.includes(v) ? v : dflt);

  function isExpired(p, now) {
    if (p.expired) return true;
    const x = ms(p.expires);
    return x <= now;
  }
  function expiringSoon(p, now) {
    const x = ms(p.expires);
    return !isExpired(p, now) && x - now <= SOON;
  }
  function terms(q) {
    return String(q || '').toLowerCase().split(/\s+/).filter(Boolean);
  }
  function hay(p) {
    if (p.__s === undefined) {
      Object.defineProperty(p, '__s', {
        value: [p.title, p.details, p.category, p.location, p.author_name, p.by].join('\n').toLowerCase(),
      });
    }
    return p.__s;
  }
  function created(p) {
    if (p.__t === undefined) Object.defineProperty(p, '__t', { value: ms(p.created_at) || 0 });
    return p.__t;
  }

  // matches reports whether post p passes the board filters f (q given as terms qs).
  // f.only, when given, is the set of groups the board shows (its own, or those followed).
  function matches(p, f, now, qs) {
    if (f.only && !f.only.has(p.group)) return false;
    if (f.group && p.group !== f.group) return false;
    if (f.kind && p.kind !== f.kind) return false;
    if (f.category && p.category !== f.category) return false;
    if (f.urgency && (p.urgency || 'normal') !== f.urgency) return false;
    const ex = isExpired(p, now), st = p.status || 'open';
    switch (f.status || 'active') {
      case 'all': break;
      case 'expired': if (!ex) return false; break;
      case 'active': if (ex || (st !== 'open' && st !== 'claimed')) return false; break;
      default: if (ex || st !== f.status) return false;
    }
    if (qs && qs.length) {
      const h = hay(p);
      for (const w of qs) if (!h.includes(w)) return false;
    }
    return true;
  }
  // byUrgency sorts high urgency first, then newest first.
  function byUrgency(a, b) {
    return (URG[a.urgency] ?? 1) - (URG[b.urgency] ?? 1) || created(b) - created(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  function badges(p, now) {
    let h = '';
    const st = known(STATUSES, p.status, 'open');
    if (p.urgency === 'high') h += `<span class="badge b-high">${te('urg_high')}</span>`;
    if (isExpired(p, now)) h += `<span class="badge b-exp">${te('expired')}</span>`;
    else if (expiringSoon(p, now)) h += `<span class="badge b-soon">${te('expiresSoon', { when: until(p.expires, now) })}</span>`;
    if (p.over_claimed) h += `<span class="badge b-over">${te('overClaimed')}</span>`;
    if (st !== 'open') h += `<span class="badge b-st">${te('status_' + st)}</span>`;
    return h;
  }
  function qtyText(p) {
    if (!p.quantity && !p.claimed_quantity) return '';
    if (!p.claimed_quantity) return t('qty', { n: p.quantity });
    return t('qtyClaimed', { n: p.quantity || 0, c: p.claimed_quantity });
  }
  // author names who made a post or a response: the node (its member name), or, for someone who used
  // the node at a meeting (a phone), "Sam, via Amal's laptop".
  function author(x) {
    const node = x.author_name || short(x.author) || t('someone');
    return x.by ? t('via', { name: x.by, node }) : node;
  }
  // authorH is author as HTML, each name in its own direction.
  function authorH(x) {
    const node = x.author_name || short(x.author);
    const nodeH = node ? u(node) : te('someone');
    return x.by ? tu('via', { name: u(x.by), node: nodeH }) : nodeH;
  }
  // A phone at a meeting may change only what it made; it gives its name before it first writes.
  const isPhone = (ctx) => !!(ctx && ctx.session && ctx.session.phone);
  const mayChange = (p, ctx) => !followedGroup(p, ctx && ctx.groups) && (!isPhone(ctx) || !!p.yours);
  const needsName = (ctx) => isPhone(ctx) && !ctx.session.name;
  // nameField asks a phone for its name, in a form that writes (id prefix p).
  function nameField(p) {
    return `<div class="field who"><label for="${p}by">${te('fYourName')}</label>` +
      `<input id="${p}by" name="by" value="" required maxlength="100" autocomplete="name" dir="auto" aria-describedby="${p}by-hint">` +
      `<small class="hint" id="${p}by-hint">${te('hYourName')}</small></div>`;
  }

  // card renders one post on the board. With gs (the node's groups, given when the board shows
  // more than one group) it names the post's group.
  function card(p, now, gs) {
    const st = known(STATUSES, p.status, 'open');
    const soon = expiringSoon(p, now);
    const cls = `card st-${st}${p.urgency === 'high' ? ' u-high' : ''}${soon ? ' soon' : ''}${p.over_claimed ? ' over' : ''}`;
    const meta = [u(p.category), followedGroup(p, gs) ? '' : u(p.location), esc(qtyText(p)), tu('by', { name: authorH(p) }), esc(ago(p.created_at, now))]
      .filter(Boolean).join(' · ');
    const d = p.details ? String(p.details) : '';
    const det = d ? `<p class="det" dir="auto">${esc(d.length > 160 ? d.slice(0, 160) + '…' : d)}</p>` : '';
    const b = groupBadge(p, gs) + badges(p, now);
    // A followed group's open need: "I can help" leads to the post's help form.
    const g = (gs || []).find((x) => x.id === p.group);
    const help = g && g.role === 'follower' && p.kind === 'need' && st === 'open' ?
      `<p class="actions"><a class="button small" href="#/post/${esc(encodeURIComponent(p.id))}" aria-describedby="p-${esc(p.id)}-t">${te('canHelp')}</a></p>` : '';
    return `<li class="${cls}" id="p-${esc(p.id)}"><h3 dir="auto" id="p-${esc(p.id)}-t"><a href="#/post/${esc(encodeURIComponent(p.id))}">${esc(p.title || t('untitled'))}</a></h3>${b ? `<p class="marks">${b}</p>` : ''}<p class="meta">${meta}</p>${det}${help}</li>`;
  }

  // boardLists filters and sorts posts and renders both columns; O(n log n). gs as for card.
  function boardLists(posts, f, now, gs) {
    const qs = terms(f.q), need = [], offer = [];
    for (const p of posts) if (matches(p, f, now, qs)) (p.kind === 'offer' ? offer : need).push(p);
    need.sort(byUrgency);
    offer.sort(byUrgency);
    const col = (list) => (list.length ? `<ol class="cards">${list.map((p) => card(p, now, gs)).join('')}</ol>` : `<p class="empty">${te('noPosts')}</p>`);
    return { need: col(need), offer: col(offer), nNeed: need.length, nOffer: offer.length };
  }

  // ---- form pieces ---------------------------------------------------------------------------

  function field(id, labelId, control, hintId) {
    const hint = hintId ? `<small class="hint" id="${id}-hint">${te(hintId)}</small>` : '';
    return `<div class="field"><label for="${id}">${te(labelId)}</label>${control}${hint}</div>`;
  }
  function input(id, name, value, attrs) {
    return `<input id="${id}" name="${name}" value="${esc(value)}"${attrs ? ' ' + attrs : ''}>`;
  }
  // select renders options given as [value, text] pairs (text is plain, not HTML).
  function select(id, name, opts, cur, attrs) {
    const o = opts.map(([v, l]) => `<option value="${esc(v)}"${v === cur ? ' selected' : ''} dir="auto">${esc(l)}</option>`).join('');
    return `<select id="${id}" name="${name}"${attrs ? ' ' + attrs : ''}>${o}</select>`;
  }
  function alertBox(id) {
    return `<div class="err" id="${id}" role="alert"></div>`;
  }
  function groupName(groups, id) {
    const g = (groups || []).find((x) => x.id === id);
    return g ? g.name || short(g.id) : short(id);
  }
  function groupOpts(groups) {
    return (groups || []).map((g) => [g.id, g.name || short(g.id)]);
  }
  function catList(cats) {
    return `<datalist id="cat-list">${(cats || []).map((c) => `<option value="${esc(c)}">`).join('')}</datalist>`;
  }

  // formValues gives the post form's initial values for post p (or a new post).
  function formValues(p) {
    p = p || {};
    return {
      kind: p.kind || 'need', title: p.title || '', details: p.details || '', category: p.category || '',
      location: p.location || '', quantity: p.quantity ? String(p.quantity) : '', urgency: p.urgency || 'normal',
      expires: toLocalInput(p.expires), contact: p.contact || '', group: p.group || '',
    };
  }
  // postBody turns form values into an API body. With orig (the values the form started with) it
  // returns only the changed fields, for PATCH.
  function postBody(v, orig) {
    const out = {};
    if (!orig && v.group) out.group = v.group;
    for (const k of FIELDS) {
      if (!(k in v)) continue;
      const s = k === 'details' ? String(v[k]) : String(v[k]).trim();
      if (orig ? s === String(orig[k] ?? '').trim() : s === '') continue;
      if (k === 'quantity') out[k] = s === '' ? 0 : Number(s);
      else if (k === 'expires') out[k] = toRFC3339(s);
      else out[k] = s;
    }
    return out;
  }

  function postForm(fid, v, ctx, edit) {
    const p = fid + '-';
    const groups = (ctx.groups || []).filter((g) => !/^follow/.test(g.role || ''));
    let h = `<form id="${fid}" class="form">`;
    if (!edit && needsName(ctx)) h += nameField(p);
    if (!edit) {
      h += field(p + 'kind', 'fKind', select(p + 'kind', 'kind', KINDS.map((k) => [k, t('kind_' + k)]), v.kind));
      if (groups.length > 1) h += field(p + 'group', 'fGroup', select(p + 'group', 'group', groupOpts(groups), v.group || ctx.group));
    }
    h += field(p + 'title', 'fTitle', input(p + 'title', 'title', v.title, 'required maxlength="200" autocomplete="off" dir="auto"'));
    h += field(p + 'details', 'fDetails', `<textarea id="${p}details" name="details" rows="4" dir="auto">${esc(v.details)}</textarea>`);
    h += field(p + 'category', 'fCategory', input(p + 'category', 'category', v.category, 'list="cat-list" autocomplete="off" dir="auto"'));
    h += field(p + 'location', 'fLocation', input(p + 'location', 'location', v.location, 'dir="auto"'));
    h += field(p + 'quantity', 'fQuantity', input(p + 'quantity', 'quantity', v.quantity, 'type="number" min="0" step="1" inputmode="numeric"'));
    h += field(p + 'urgency', 'fUrgency', select(p + 'urgency', 'urgency', URGENCIES.map((u) => [u, t('urg_' + u)]), v.urgency));
    h += field(p + 'expires', 'fExpires', input(p + 'expires', 'expires', v.expires, `type="datetime-local" aria-describedby="${p}expires-hint"`), 'hExpires');
    h += field(p + 'contact', 'fContact', input(p + 'contact', 'contact', v.contact, `autocomplete="off" dir="auto" aria-describedby="${p}contact-hint"`), 'hContact');
    h += alertBox(p + 'err');
    h += `<p class="msg" id="${p}msg" role="status"></p><button type="submit">${te(edit ? 'save' : 'publish')}</button>${catList(ctx.cats)}</form>`;
    return h;
  }

  // ---- views ---------------------------------------------------------------------------------

  function heading(id) {
    return `<h1 id="view-title" tabindex="-1">${te(id)}</h1>`;
  }

  // viewBoard is the board of the node's own groups, or with ctx.scope 'followed' the read-only
  // board of the groups it follows (filtered by f.fgroup; every card names its group).
  function viewBoard(f, ctx) {
    const fol = ctx.scope === 'followed', nf = scopeGroups(ctx.groups, 'followed').length;
    const groups = scopeGroups(ctx.groups, fol ? 'followed' : 'own');
    let h = `<h1 id="view-title" tabindex="-1">${te(fol ? 'followedTitle' : 'boardTitle')}</h1>`;
    if (nf || fol) h += boardSwitch(fol ? 'followed' : 'own', nf);
    if (fol) h += `<p>${te(nf ? 'followedHelp' : 'followedNone')}</p>`;
    h += `<p class="print-only">${te('printedAt', { when: F10.date.format(new Date(ctx.now)) })}</p>`;
    h += `<form id="filters" class="filters" role="search" aria-label="${te('filters')}">`;
    h += field('fl-q', 'search', input('fl-q', 'q', f.q, 'type="search" autocomplete="off"'));
    if (groups.length > 1) h += field('fl-group', 'fGroup', select('fl-group', fol ? 'fgroup' : 'group', [['', t(fol ? 'allFollowed' : 'allGroups')]].concat(groupOpts(groups)), fol ? f.fgroup : f.group));
    h += field('fl-kind', 'fKind', select('fl-kind', 'kind', [['', t('allKinds')], ['need', t('needs')], ['offer', t('offers')]], f.kind));
    h += field('fl-category', 'fCategory', select('fl-category', 'category', [['', t('allCategories')]].concat((ctx.cats || []).map((c) => [c, c])), f.category));
    h += field('fl-status', 'fStatus', select('fl-status', 'status', [['active', t('status_active')]].concat(STATUSES.map((s) => [s, t('status_' + s)]), [['expired', t('expired')], ['all', t('status_all')]]), f.status));
    h += field('fl-urgency', 'fUrgency', select('fl-urgency', 'urgency', [['', t('anyUrgency')]].concat(URGENCIES.slice().reverse().map((u) => [u, t('urg_' + u)])), f.urgency));
    h += `</form><p class="actions">${fol ? '' : `<a class="button" href="#/new">${te('newPost')}</a> `}<button type="button" data-act="print">${te('print')}</button></p>`;
    const tab = ctx.tab === 'offer' ? 'offer' : 'need';
    h += `<div class="tabs" role="group" aria-label="${te('showColumn')}">`;
    for (const k of KINDS) h += `<button type="button" data-act="tab" data-tab="${k}" aria-pressed="${tab === k}" aria-controls="col-${k}">${te(k + 's')} <span id="n-${k}"></span></button>`;
    h += `</div><div id="board" class="cols show-${tab}${f.kind ? ' only-' + esc(f.kind) : ''}">`;
    for (const k of KINDS) h += `<section id="col-${k}" class="col col-${k}" aria-labelledby="h-${k}"><h2 id="h-${k}">${te(k + 's')} <span class="count" id="c-${k}"></span></h2><div id="list-${k}"><p class="empty">${te('loading')}</p></div></section>`;
    return h + '</div>';
  }

  function statusButtons(p) {
    const st = known(STATUSES, p.status, 'open');
    return `<div class="statusbar" role="group" aria-label="${te('changeStatus')}">` +
      STATUSES.map((s) => `<button type="button" id="set-${s}" data-act="status" data-status="${s}" aria-pressed="${s === st}">${te((s === st ? 'status_' : 'set_') + s)}</button>`).join(' ') + '</div>';
  }
  // row is one label and value of a <dl>; the value may be text a person wrote, so it has dir="auto".
  function row(labelId, value, cls) {
    if (value === '' || value == null) return '';
    return rowH(labelId, esc(value), cls);
  }
  // rowH is row with a value that is already HTML.
  function rowH(labelId, html, cls) {
    return `<div${cls ? ` class="${cls}"` : ''}><dt>${te(labelId)}</dt><dd dir="auto">${html}</dd></div>`;
  }
  function responses(p, now) {
    const rs = p.responses || [];
    let h = `<h2 id="resp-h" tabindex="-1">${te('responses', { n: rs.length })}</h2>`;
    if (!rs.length) return h + `<p class="empty">${te('noResponses')}</p>`;
    h += '<ol class="responses">';
    for (const r of rs) {
      // A member of another group (help across boards) answers "from Riverside".
      const from = r.visitor && r.group ? ' · ' + tu('fromGroup', { name: u(r.group.name || short(r.group.id)) }) : '';
      h += `<li><strong>${authorH(r)}</strong>${from}${r.quantity ? ' · ' + te('qty', { n: r.quantity }) : ''} · <span class="when">${esc(ago(r.created_at, now))}</span>`;
      if (r.yours) h += ` <button type="button" class="small" data-act="unrespond" data-rid="${esc(r.id)}">${te('takeBack')}</button>`;
      if (r.note) h += `<p class="note" dir="auto">${esc(r.note)}</p>`;
      if (r.contact) h += `<p class="contact">${te('respContact')} <span dir="auto">${esc(r.contact)}</span></p>`;
      h += '</li>';
    }
    return h + '</ol>' + alertBox('resp-err');
  }
  // postDetails is the live part of the post page (re-rendered on updates).
  function postDetails(p, ctx) {
    const now = ctx.now, b = badges(p, now), fg = followedGroup(p, ctx.groups);
    let h = `<h1 id="view-title" tabindex="-1" dir="auto">${esc(p.title || t('untitled'))}</h1>`;
    h += `<p class="marks"><span class="badge b-kind">${te('kind_' + known(KINDS, p.kind, 'need'))}</span>${b}</p>`;
    // A followed group's post: read-only here, and never a contact or an exact location.
    if (fg) h += `<p class="note">${tu('followedPost', { name: u(fg.name || short(fg.id)) })}</p>`;
    if (p.details) h += `<p class="details" dir="auto">${esc(p.details)}</p>`;
    h += '<dl class="fields">';
    h += row('fStatus', t('status_' + known(STATUSES, p.status, 'open')));
    h += row('fCategory', p.category) + (fg ? '' : row('fLocation', p.location));
    h += row('fQuantity', p.quantity || '') + row('fClaimed', p.claimed_quantity || '');
    h += row('fUrgency', t('urg_' + known(URGENCIES, p.urgency, 'normal')));
    h += row('fExpires', p.expires ? when(p.expires) : '');
    if (!fg) h += row('fContact', p.contact, 'contact');
    if ((ctx.groups || []).length > 1) h += row('fGroup', groupName(ctx.groups, p.group));
    h += rowH('fAuthor', authorH(p)) + row('fCreated', when(p.created_at)) + row('fUpdated', when(p.updated_at));
    h += '</dl>' + (mayChange(p, ctx) ? statusButtons(p) + alertBox('status-err') : '');
    return h + responses(p, now);
  }
  // helpForm is "I can help". On a post of a group this node follows it answers from one of the
  // node's own groups and asks how to reach the helper: sealed so that only that group's members
  // read it.
  function helpForm(ctx, p) {
    const groups = ctx.groups || [];
    const pg = groups.find((g) => g.id === p.group);
    const followed = pg && pg.role === 'follower';
    const own = groups.filter((g) => g.role === 'member' || g.role === 'admin');
    let extra = '';
    if (followed) {
      extra += field('help-contact', 'fHelpContact', input('help-contact', 'contact', '', 'maxlength="200" autocomplete="tel" dir="auto" aria-describedby="help-contact-hint"'), null) +
        `<small class="hint" id="help-contact-hint">${tu('hHelpContact', { name: u(pg.name || short(pg.id)) })}</small>`;
      if (own.length > 1) extra += field('help-as', 'fAsGroup', select('help-as', 'as_group', groupOpts(own), ''));
    }
    return `<section class="box" aria-labelledby="help-h"><h2 id="help-h">${te('canHelp')}</h2><form id="help" class="form">` +
      (needsName(ctx) ? nameField('help-') : '') + field('help-quantity', 'fHelpQty', input('help-quantity', 'quantity', '', 'type="number" min="1" step="1" inputmode="numeric"')) +
      field('help-note', 'fNote', '<textarea id="help-note" name="note" rows="2" dir="auto"></textarea>') + extra +
      alertBox('help-err') + `<p class="msg" id="help-msg" role="status"></p><button type="submit">${te('sendHelp')}</button></form></section>`;
  }
  function viewPost(p, ctx) {
    return `<article id="post-view">${postDetails(p, ctx)}</article>${helpForm(ctx, p)}` +
      (mayChange(p, ctx) ? `<details class="box edit"><summary>${te('edit')}</summary>${postForm('edit', formValues(p), ctx, true)}</details>` : '') +
      `<p class="actions"><a href="#/">${te('backToBoard')}</a></p>`;
  }
  function viewNew(ctx) {
    const v = formValues({ kind: ctx.kind });
    return heading('newPost') + postForm('new', v, ctx, false);
  }

  function membersTable(g) {
    const list = (g && g.members) || [];
    if (!list.length) return `<p class="empty">${te('noMembers')}</p>`;
    return `<div class="scroll" tabindex="0" role="region" aria-labelledby="mem-cap"><table><caption id="mem-cap">${te('members', { n: list.length })}</caption><thead><tr><th scope="col">${te('fName')}</th><th scope="col">${te('fRole')}</th></tr></thead><tbody>` +
      list.map((m) => `<tr><td dir="auto">${esc(m.name || short(m.id))}</td><td>${esc(tv('role_', m.role))}</td></tr>`).join('') + '</tbody></table></div>';
  }
  function inviteResult(code) {
    return `<div class="field"><label for="inv-code">${te('inviteCode')}</label><textarea id="inv-code" readonly rows="3">${esc(code)}</textarea></div>` +
      `<img class="qr" src="/api/v1/invites/qr.png?code=${esc(encodeURIComponent(code))}" alt="${te('qrAlt')}" width="256" height="256">`;
  }
  function importResult(r) {
    r = r || {};
    const errs = r.errors || [];
    let h = `<p>${te('imported', { n: r.imported || 0, d: r.duplicates || 0 })}</p>`;
    if (r.completed) h += `<p>${te('importCompleted', { n: r.completed, rows: (r.completed_rows || []).join(', ') })}</p>`;
    // A sheet with a Group column: what went to each group.
    if ((r.groups || []).length) {
      h += '<ul>' + r.groups.map((g) => `<li>${tu('importedInto', { name: u(g.name || short(g.id)), n: Number(g.imported) || 0, d: Number(g.duplicates) || 0 })}</li>`).join('') + '</ul>';
    }
    if (errs.length) {
      h += `<p>${te('importErrors', { n: errs.length })}</p><ul class="errors">` +
        errs.map((e) => `<li>${te('rowError', { row: e.row, error: e.error })}</li>`).join('') + '</ul>';
    }
    return h;
  }
  // viewPhone is the group page of a phone at a meeting: its name, and what it cannot do here.
  function viewPhone(ctx) {
    const node = ctx.node || {};
    return heading('groupTitle') + `<dl class="fields">${row('nodeName', node.name)}</dl>` +
      `<section class="box" aria-labelledby="who-h"><h2 id="who-h">${te('fYourName')}</h2><form id="whoami" class="form">` +
      field('who-name', 'fYourName', input('who-name', 'name', ctx.session.name || '', 'required maxlength="100" autocomplete="name" dir="auto" aria-describedby="who-name-hint"'), 'hYourName') +
      alertBox('who-err') + `<p class="msg" id="who-msg" role="status"></p><button type="submit">${te('save')}</button></form></section>` +
      `<p class="box">${te('phoneLimits')}</p>`;
  }
  function viewGroup(ctx) {
    if (isPhone(ctx)) return viewPhone(ctx);
    const node = ctx.node || {}, groups = node.groups || [], gid = ctx.group;
    if (!groups.length) return viewWelcome(ctx);
    const cur = groups.find((g) => g.id === gid) || groups[0];
    let h = heading('groupTitle');
    h += `<dl class="fields">${row('nodeName', node.name)}${row('peerId', short(node.peer_id))}</dl>`;
    // Renaming the node: a Rename op in each of its groups (their members see it after sync).
    h += `<details class="box edit"><summary>${te('renameNode')}</summary><form id="rename" class="form">` +
      field('rn-name', 'fNodeName', input('rn-name', 'name', node.name, 'required maxlength="100" autocomplete="name" dir="auto" aria-describedby="rn-name-hint"'), 'hRename') +
      alertBox('rn-err') + `<p class="msg" id="rn-msg" role="status"></p><button type="submit">${te('save')}</button></form></details>`;
    h += groupList(groups, cur.id) + groupNote(cur);
    const gq = esc(encodeURIComponent(gid || '')), fol = isFollowed(cur);
    h += `<section class="box" aria-labelledby="mem-h"><h2 id="mem-h">${te('membersTitle')}</h2><div id="members"><p>${te('loading')}</p></div></section>`;
    // A followed group: no invites, imports or federation here (read-only), but it can be shared.
    if (!fol) {
      h += `<section class="box" aria-labelledby="inv-h"><h2 id="inv-h">${te('inviteTitle')}</h2>`;
      if (cur.role === 'admin') {
        h += `<form id="invite" class="form">` +
          field('inv-role', 'fRole', select('inv-role', 'role', [['member', t('role_member')], ['admin', t('role_admin')]], 'member')) +
          field('inv-expires', 'fInviteExpires', select('inv-expires', 'expires', [['1h', t('exp1h')], ['24h', t('exp24h')], ['72h', t('exp72h')], ['168h', t('exp7d')]], '72h')) +
          alertBox('inv-err') + `<button type="submit">${te('createInvite')}</button></form><div id="inv-out"></div>`;
      } else {
        h += `<p>${te('adminsInvite')}</p>`;
      }
      h += '</section>';
    }
    h += shareBox(cur) + (cur.role === 'admin' ? fedSection() : '');
    if (!fol) h += `<section class="box" aria-labelledby="data-h"><h2 id="data-h">${te('dataTitle')}</h2>` +
      `<p><a class="button" href="/api/v1/posts.csv?group=${gq}" download>${te('downloadCsv')}</a></p>` +
      `<form id="import" class="form">${field('imp-file', 'fCsvFile', '<input id="imp-file" name="file" type="file" accept=".csv,text/csv" required>')}` +
      alertBox('imp-err') + `<button type="submit">${te('importCsv')}</button></form><div id="imp-out" role="status"></div>` +
      `<p><button type="button" data-act="digest">${te('copyText')}</button></p><p class="msg" id="digest-msg" role="status"></p>` +
      alertBox('digest-err') + `<div id="digest-box" class="field" hidden><label for="digest-text">${te('digestLabel')}</label><textarea id="digest-text" rows="10" readonly dir="auto"></textarea></div></section>`;
    if (node.meeting) {
      h += `<section class="box" aria-labelledby="meet-h"><h2 id="meet-h">${te('meetingTitle')}</h2><p>${te('meetingHelp')}</p>` +
        `<button type="button" class="danger" data-act="revoke">${te('endSessions')}</button>${alertBox('revoke-err')}<p class="msg" id="revoke-msg" role="status"></p></section>`;
    }
    return h + followForm() + otherGroup();
  }

  function peersTable(peers, now) {
    if (!peers || !peers.length) return `<p class="empty">${te('noPeers')}</p>`;
    return `<div class="scroll" tabindex="0" role="region" aria-labelledby="peers-cap"><table><caption id="peers-cap">${te('peersCaption', { n: peers.length })}</caption><thead><tr><th scope="col">${te('peer')}</th><th scope="col">${te('fName')}</th><th scope="col">${te('connection')}</th><th scope="col">${te('lastSynced')}</th><th scope="col">${te('lastSeen')}</th></tr></thead><tbody>` +
      peers.map((p) => `<tr><td><code title="${esc(p.peer_id)}">${esc(short(p.peer_id))}</code></td><td dir="auto">${esc(p.name || '')}</td>` +
        `<td><span class="dot ${p.connected ? 'on' : 'off'}"></span>${te(p.connected ? 'connected' : 'notConnected')}${esc(viaText(p))}${peerSyncing(p)}</td>` +
        `<td>${esc(p.last_synced ? ago(p.last_synced, now) : t('never'))}</td><td>${esc(p.last_seen ? ago(p.last_seen, now) : t('never'))}</td></tr>`).join('') +
      '</tbody></table></div>';
  }
  function viewPeers(peers, now) {
    return heading('peersTitle') + `<div id="peers-table">${peersTable(peers, now)}</div>`;
  }
  function statusText(online, peers) {
    const n = (peers || []).filter((p) => p.connected).length, sy = syncing(peers);
    return tn('peers', n) + ' · ' + (online && sy ? t('syncing', sy) : t(online ? 'inSync' : 'offline'));
  }

  // ---- groups: start, join, switch ----------------------------------------------------------

  // groupBadge names p's group on a card, when gs (the groups to tell apart) is given.
  function groupBadge(p, gs) {
    return gs ? `<span class="badge b-group" dir="auto">${esc(groupName(gs, p.group))}</span>` : '';
  }
  // syncing sums the catch-up progress that peers report ({done, total} while a catch-up runs); null
  // when none runs.
  function syncing(peers) {
    let done = 0, total = 0;
    for (const p of peers || []) {
      const s = p && p.syncing;
      if (!s || !(Number(s.total) > 0)) continue;
      done += Math.max(0, Number(s.done) || 0);
      total += Number(s.total);
    }
    return total ? { done: Math.min(done, total), total } : null;
  }
  function peerSyncing(p) {
    const sy = syncing([p]);
    return sy ? ` · ${te('syncing', sy)}` : '';
  }
  // inviteCode finds an invite code in what a person pasted: the code itself, or a link or message
  // that carries it. '' if there is none.
  function inviteCode(s) {
    s = String(s || '');
    let m = s.match(/mutual1-[A-Za-z0-9_-]+/);
    if (!m) {
      try { m = decodeURIComponent(s).match(/mutual1-[A-Za-z0-9_-]+/); } catch (e) { m = null; }
    }
    return m ? m[0] : '';
  }
  function startForm() {
    return `<section class="box" aria-labelledby="start-h"><h2 id="start-h">${te('startTitle')}</h2><form id="start" class="form">` +
      field('start-name', 'fGroupName', input('start-name', 'name', '', 'required maxlength="100" autocomplete="off" dir="auto" aria-describedby="start-name-hint"'), 'hGroupName') +
      alertBox('start-err') + `<button type="submit">${te('startGroup')}</button></form></section>`;
  }
  function joinForm() {
    return `<section class="box" aria-labelledby="join-h"><h2 id="join-h">${te('joinTitle')}</h2><form id="join" class="form">` +
      field('join-code', 'fJoinCode', '<textarea id="join-code" name="code" rows="3" required autocomplete="off" spellcheck="false" aria-describedby="join-code-hint"></textarea>', 'hJoinCode') +
      alertBox('join-err') + `<button type="submit">${te('joinGroup')}</button></form></section>`;
  }
  // viewWelcome is the page of a node in no group: it asks the node's name once (it goes into the
  // op that puts the node in its first group), then offers to start a group or join one.
  function viewWelcome(ctx) {
    const node = ctx.node || {};
    return heading('welcomeTitle') + `<p>${te('noGroups')} ${te('welcomeIntro')}</p>` +
      `<div class="form">${field('ob-name', 'fNodeName', input('ob-name', 'name', node.name, 'required maxlength="100" autocomplete="name" dir="auto" aria-describedby="ob-name-hint"'), 'hNodeName')}</div>` +
      startForm() + joinForm();
  }
  // groupList lists the node's groups with role and short ID; every group but the one shown has a
  // button that switches to it.
  function groupList(groups, cur) {
    return `<h2 id="groups-h">${te('groupsCaption', { n: groups.length })}</h2><ul class="groups" aria-labelledby="groups-h">` + groups.map((g, i) => {
      // A followed group: why its nodes refuse this one, if they do, and "Stop following" — unless
      // its members answer our boards (help across boards): then it says so, and it stays.
      const helps = (g.helps || []).map((id) => { const h = groups.find((x) => x.id === id); return (h && h.name) || short(id); });
      const fol = !isFollowed(g) ? '' : (helps.length ? `<p class="note helping">${tu('helpingNote', { groups: helps.map(u).join(', ') })}</p>` :
        ` <button type="button" class="small" data-act="unfollow" data-group="${esc(g.id)}" aria-describedby="gn-${i}">${te('unfollow')}</button>`) +
        (g.refused ? `<p class="note refused">${esc(refusedText(g))}</p>` : '');
      const name = `<strong id="gn-${i}" dir="auto">${esc(g.name || short(g.id))}</strong> <span class="meta">${esc(tv('role_', g.role))} · <code title="${esc(g.id)}">${esc(String(g.id || '').slice(0, 8))}</code></span>`;
      return g.id === cur ? `<li aria-current="true">${name} <span class="badge b-st">${te('shownGroup')}</span>${fol}</li>` :
        `<li>${name} <button type="button" class="small" data-act="pick" data-group="${esc(g.id)}" aria-describedby="gn-${i}">${te('showGroup')}</button>${fol}</li>`;
    }).join('') + '</ul>' + alertBox('unfollow-err');
  }
  // groupNote says why a group's page has little on it yet, or '' .
  function groupNote(g) {
    if (!g) return '';
    if (g.role === 'pending') return `<p class="note">${te('pendingJoin', { name: g.name || short(g.id) })}</p>`;
    if (isFollowed(g)) return `<p class="note">${te('followingNote', { name: g.name || short(g.id) })}</p>`;
    return '';
  }
  function otherGroup() {
    return `<details class="box edit"><summary>${te('otherGroup')}</summary>${startForm()}${joinForm()}</details>`;
  }

  // ---- following: the followed board, sharing, following, federation ------------------------

  const isFollowed = (g) => !!g && g.role === 'follower';
  // followedGroup is the followed group that post p belongs to, or undefined.
  const followedGroup = (p, gs) => (gs || []).find((g) => g.id === p.group && isFollowed(g));
  // scopeGroups are the groups a board shows: the node's own ('own': member, admin, joining) or the
  // ones it follows ('followed').
  const scopeGroups = (gs, scope) => (gs || []).filter((g) => isFollowed(g) === (scope === 'followed'));
  // followCode finds what `follow` takes in what a person pasted: a follow code (mutualf1-…), in a
  // message or link, or a group's full ID (64 hex digits). '' if there is none.
  function followCode(s) {
    s = String(s || '');
    try { s += '\n' + decodeURIComponent(s); } catch (e) { /* not URL-encoded */ }
    const m = s.match(/mutualf1-[A-Za-z0-9_-]+/) || s.match(/(?:^|[^0-9a-f])([0-9a-f]{64})(?![0-9a-f])/i);
    return !m ? '' : m[1] ? m[1].toLowerCase() : m[0];
  }
  // refusedText says why a followed group's nodes refuse this node, naming the group.
  function refusedText(g) {
    const name = g.name || short(g.id);
    return /allies only/.test(g.refused) ? t('refusedAllies', { name }) : t('refused', { name, reason: g.refused });
  }
  // boardSwitch links the node's own board and the followed groups' board (scope names the one shown).
  function boardSwitch(scope, n) {
    const cur = (s) => (s === scope ? ' aria-current="page"' : '');
    return `<p class="boards actions"><a class="button" href="#/"${cur('own')}>${te('ownBoard')}</a>` +
      `<a class="button" href="#/followed"${cur('followed')}>${te('followedBoard', { n })}</a></p>`;
  }
  // shareResult shows a group's follow code to copy, and its QR code.
  function shareResult(code) {
    return `<div class="field"><label for="share-code">${te('followCodeLabel')}</label><textarea id="share-code" readonly rows="3" spellcheck="false">${esc(code)}</textarea></div>` +
      `<p><button type="button" data-act="copyshare">${te('copyCode')}</button></p><p class="msg" id="share-msg" role="status"></p>` +
      `<img class="qr" src="/api/v1/invites/qr.png?code=${esc(encodeURIComponent(code))}" alt="${te('qrFollowAlt')}" width="256" height="256">`;
  }
  function shareBox(g) {
    return `<section class="box" aria-labelledby="share-h"><h2 id="share-h">${te('shareTitle')}</h2><p>${tu('shareHelp', { name: u(g.name || short(g.id)) })}</p>` +
      `<div id="share-out"><p>${te('loading')}</p></div>${alertBox('share-err')}</section>`;
  }
  function followForm() {
    return `<section class="box" aria-labelledby="follow-h"><h2 id="follow-h">${te('followTitle')}</h2><form id="follow" class="form">` +
      field('follow-code', 'fFollowCode', '<textarea id="follow-code" name="code" rows="3" required autocomplete="off" spellcheck="false" aria-describedby="follow-code-hint"></textarea>', 'hFollowCode') +
      alertBox('follow-err') + `<button type="submit">${te('followGroup')}</button></form></section>`;
  }
  // fedList lists the groups ids (allies or blocked), named when the node knows them, each with a
  // button (act) that takes it off the list.
  function fedList(kind, ids, gs, act, btn) {
    if (!ids.length) return `<p class="empty">${te(kind + 'None')}</p>`;
    return `<ul class="groups" aria-labelledby="${kind}-h">` + ids.map((id, i) => {
      const g = (gs || []).find((x) => x.id === id);
      return `<li><strong id="${kind}-${i}" dir="auto">${esc(g && g.name ? g.name : short(id))}</strong> <code title="${esc(id)}">${esc(id.slice(0, 8))}</code>` +
        ` <button type="button" class="small" data-act="${act}" data-group="${esc(id)}" aria-describedby="${kind}-${i}">${te(btn)}</button></li>`;
    }).join('') + '</ul>';
  }
  // fedAdd is the form that adds a group to a federation list by its follow code or ID.
  function fedAdd(id, label, hint, btn) {
    return `<form id="${id}" class="form">` + field(id + '-code', label, input(id + '-code', 'code', '', `required autocomplete="off" spellcheck="false" aria-describedby="${id}-code-hint"`), hint) +
      alertBox(id + '-err') + `<button type="submit" id="${id}-btn">${te(btn)}</button></form>`;
  }
  // fedBox is an admin's federation settings of group g (GET /api/v1/groups/{id}): who may follow,
  // the allies, the blocked groups. gs are the node's groups, to name those it knows.
  function fedBox(g, gs) {
    const f = (g && g.federation) || {}, pol = f.policy === 'allies' ? 'allies' : 'open';
    const allies = f.allies || [], blocked = f.blocked || [];
    const radio = (v) => `<div class="choice"><input type="radio" id="fed-${v}" name="policy" value="${v}"${pol === v ? ' checked' : ''}><label for="fed-${v}">${te('policy_' + v)}</label></div>`;
    return alertBox('fed-err') + `<form id="fedpolicy" class="form"><fieldset><legend>${te('fPolicy')}</legend>${radio('open')}${radio('allies')}</fieldset>` +
      alertBox('fedpolicy-err') + `<p class="msg" id="fed-msg" role="status"></p><button type="submit" id="fed-save">${te('save')}</button></form>` +
      `<h3 id="allies-h" tabindex="-1">${te('alliesTitle', { n: allies.length })}</h3>${fedList('allies', allies, gs, 'unally', 'remove')}` +
      fedAdd('addally', 'fAllyCode', 'hAllyCode', 'addAlly') +
      `<h3 id="blocked-h" tabindex="-1">${te('blockedTitle', { n: blocked.length })}</h3><p>${te('blockedHelp')}</p>${fedList('blocked', blocked, gs, 'unblock', 'unblock')}` +
      fedAdd('addblock', 'fBlockCode', 'hBlockCode', 'block');
  }
  function fedSection() {
    return `<section class="box" aria-labelledby="fed-h"><h2 id="fed-h">${te('fedTitle')}</h2><div id="fed"><p>${te('loading')}</p></div></section>`;
  }
  // viaText says how a peer is reached (GET /api/v1/peers via: direct, lan, relayed), or ''.
  const viaText = (p) => (p.via ? ' · ' + tv('via_', p.via) : '');

  const exported = {
    LANGS, setLang, pickLang, t, tn, u, tu, authorH, esc, short, ago, until, toLocalInput, toRFC3339, isExpired, expiringSoon, matches, byUrgency,
    card, boardLists, formValues, postBody, postForm, viewBoard, viewPost, postDetails, viewNew, author,
    viewGroup, membersTable, inviteResult, importResult, viewPeers, peersTable, statusText,
    viewWelcome, groupList, inviteCode, syncing,
  };
  Object.assign(exported, { followCode, refusedText, shareResult, followForm, fedBox, boardSwitch, scopeGroups });
  if (typeof module === 'object' && module.exports) module.exports = exported;
  if (typeof document === 'undefined') return;

  // ---- browser wiring ------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  // stored and store keep the group shown across reloads (per node: localStorage is per origin).
  function stored(k) {
    try { return localStorage.getItem('mutual.' + k) || ''; } catch (e) { return ''; }
  }
  function store(k, v) {
    try { localStorage.setItem('mutual.' + k, v || ''); } catch (e) { /* private mode: not kept */ }
  }
  const st = {
    node: null, session: null, posts: new Map(), peers: [], online: false, dropped: false, loaded: false,
    tab: 'need', group: stored('group'), cats: [], catKey: '', route: '', id: '', flash: '',
  };
  const F = { q: '', group: stored('filter-group'), fgroup: stored('filter-fgroup'), kind: '', category: '', status: 'active', urgency: '' };
  const groups = () => (st.node && st.node.groups) || [];
  const ctx = () => ({ groups: groups(), node: st.node, session: st.session, cats: st.cats, group: st.group, tab: st.tab, now: Date.now() });

  // api calls the node; it resolves with the decoded body and rejects with an Error whose message
  // is the API's {"error"} text. A 401 shows the "join the meeting" banner.
  function api(method, path, body, type) {
    const opt = { method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      opt.headers['Content-Type'] = type || 'application/json';
      opt.body = type ? body : JSON.stringify(body);
    }
    return fetch(path, opt).then(async (res) => {
      const ct = res.headers.get('Content-Type') || '';
      const data = ct.includes('json') ? await res.json().catch(() => null) : await res.text();
      if (res.status === 401) {
        showAuth(true);
        const e = new Error(t('needSession'));
        e.status = 401;
        throw e;
      }
      if (!res.ok) {
        const e = new Error((data && data.error) || t('errHttp', { code: res.status }));
        e.status = res.status;
        // 507: the node's disk is full; nothing can be saved until it has room.
        if (res.status === 507) showStoreError(e.message);
        throw e;
      }
      showAuth(false);
      return data;
    }, () => {
      throw new Error(t('errNetwork'));
    });
  }
  function showAuth(on) {
    const a = $('auth');
    if (!a || a.hidden === !on) return;
    a.textContent = on ? t('needSession') : '';
    a.hidden = !on;
  }
  // showStoreError keeps the reason the node cannot save (a full disk) in
  // a banner until the page is reloaded.
  function showStoreError(msg) {
    const a = $('store-error');
    if (!a || !msg) return;
    a.textContent = msg;
    a.hidden = false;
  }
  function say(id, text) {
    const el = $(id);
    if (el) el.textContent = text || '';
  }
  // announce says text in the polite live region #announce, for a screen reader: what changed
  // without the person moving there (a post arriving, a filter's result, a status changing).
  // The region is emptied first, so that the same words said twice are announced twice.
  let annTimer = 0;
  function announce(text) {
    const a = $('announce');
    if (!a) return;
    clearTimeout(annTimer);
    a.textContent = '';
    annTimer = setTimeout(() => { a.textContent = text; }, 150);
  }
  // Posts arriving live are announced together, a moment after the last one.
  let arrived = [], arrivedTimer = 0;
  function announceArrival(p) {
    arrived.push(p);
    clearTimeout(arrivedTimer);
    arrivedTimer = setTimeout(() => {
      const ps = arrived;
      arrived = [];
      announce(ps.length === 1 ? t('liveNew_' + known(KINDS, ps[0].kind, 'need'), { title: ps[0].title || t('untitled') })
        : t('liveNewMany', { n: ps.length }));
    }, 400);
  }
  // keepFocus runs a re-render of el and puts the focus back on the element with the same id.
  function keepFocus(el, render) {
    const a = document.activeElement, id = a && el.contains(a) ? a.id : '';
    render();
    const b = id && $(id);
    if (b && b !== document.activeElement) b.focus();
  }
  // keepFields redraws el with draw and gives the fields that are drawn again (same id) what was
  // typed or chosen in them before, opening a closed <details> that holds one: a redraw of the
  // same view (the language switch, a group change) never loses a half-filled form. Only fields a
  // person changed are kept; the others show what the new drawing says.
  function keepFields(el, draw) {
    const was = new Map();
    for (const f of el.querySelectorAll('input[id], textarea[id], select[id]')) {
      if (f.type === 'file' || f.readOnly) continue;
      const box = /^(checkbox|radio)$/.test(f.type);
      const changed = box ? f.checked !== f.defaultChecked : f.tagName === 'SELECT' ?
        Array.from(f.options).some((o) => o.selected !== o.defaultSelected) : f.value !== f.defaultValue;
      if (changed) was.set(f.id, box ? f.checked : f.value);
    }
    draw();
    for (const [id, v] of was) {
      const f = $(id);
      if (!f || !el.contains(f)) continue;
      const box = /^(checkbox|radio)$/.test(f.type);
      if ((box ? f.checked : f.value) === v) continue;
      if (box) f.checked = v;
      else f.value = v;
      const d = f.closest('details');
      if (d) d.open = true;
    }
  }
  function formValuesOf(form) {
    const v = {};
    for (const el of form.elements) if (el.name && el.type !== 'file') v[el.name] = el.value;
    return v;
  }
  // busy marks a form's buttons as unavailable while it saves. They stay focusable (aria-disabled,
  // not disabled): a disabled button loses the focus, which then falls to <body> and a keyboard or
  // screen-reader user has to find their place again.
  function busy(form, on) {
    form.dataset.busy = on ? '1' : '';
    for (const b of form.querySelectorAll('button')) {
      if (on) b.setAttribute('aria-disabled', 'true');
      else b.removeAttribute('aria-disabled');
    }
  }
  // holdFocus runs a change that may remove the focused element, and puts the focus on fallback (an
  // element id) if it fell to <body>.
  function holdFocus(fallback) {
    const a = document.activeElement;
    if ((!a || a === document.body || !a.isConnected) && $(fallback)) $(fallback).focus();
  }

  // ---- data ----

  function upsert(p) {
    if (!p || !p.id) return;
    const old = st.posts.get(p.id);
    if (old && ms(old.updated_at) > ms(p.updated_at)) return;
    st.posts.set(p.id, p);
    if (onBoard()) {
      const el = document.getElementById('p-' + p.id), now = Date.now();
      const show = matches(p, boardFilter(), now, terms(F.q));
      if (!old && show && st.loaded) announceArrival(p);
      if (el && old && show && old.kind === p.kind && old.urgency === p.urgency && old.created_at === p.created_at) {
        el.outerHTML = card(p, now, labelGroups());
      } else if (el || show || (p.category && !st.cats.includes(p.category))) {
        scheduleLists();
      }
      if (p.group && !groups().some((g) => g.id === p.group)) nodeSoon();
    } else if (st.route === 'post' && st.id === p.id) {
      const v = $('post-view');
      if (v) keepFocus(v, () => { v.innerHTML = postDetails(p, ctx()); });
      if (old && (old.status || 'open') !== (p.status || 'open')) announce(t('liveStatus', { status: t('status_' + known(STATUSES, p.status, 'open')) }));
      else if (old && (old.responses || []).length !== (p.responses || []).length) announce(t('liveResponses', { n: (p.responses || []).length }));
    }
  }
  async function loadPosts() {
    const gs = groups();
    const paths = gs.length ? gs.map((g) => '/api/v1/posts?group=' + encodeURIComponent(g.id)) : ['/api/v1/posts'];
    try {
      const lists = await Promise.all(paths.map((u) => api('GET', u)));
      for (const list of lists) {
        for (const p of list || []) {
          const old = st.posts.get(p.id);
          if (!old || ms(old.updated_at) <= ms(p.updated_at)) st.posts.set(p.id, p);
        }
      }
      st.loaded = true;
      if (onBoard()) scheduleLists();
    } catch (e) {
      const l = $('list-need');
      if (l && !st.loaded) l.innerHTML = `<p class="err" role="alert">${esc(e.message)}</p>`;
    }
  }
  let peersTimer = 0;
  async function loadPeers() {
    clearTimeout(peersTimer);
    peersTimer = 0;
    try {
      const ps = await api('GET', '/api/v1/peers');
      st.peers = Array.isArray(ps) ? ps : [];
    } catch (e) { /* the status line shows what we know */ }
    updateStatus();
    const tbl = $('peers-table');
    if (tbl && st.route === 'peers') tbl.innerHTML = peersTable(st.peers, Date.now());
    // A catch-up or a join in progress: follow it closely until it ends.
    if (!peersTimer && (syncing(st.peers) || groups().some((g) => g.role === 'pending') || watching())) {
      peersTimer = setTimeout(() => { loadNode(); loadPeers(); }, 1000);
    }
  }
  // loadNode reads the node and its groups; when the groups changed (a join confirmed, a group made
  // elsewhere) it reloads the posts and redraws the page in place, unless the caller will (mine).
  async function loadNode(mine) {
    let n;
    try { n = await api('GET', '/api/v1/node'); } catch (e) { return; }
    const before = JSON.stringify(groups()), wasWelcome = welcome(st.route);
    st.node = n;
    showWho();
    showStoreError(n.store_error);
    if (JSON.stringify(groups()) !== before && route.done && mine !== true) {
      loadPosts();
      // Redraw what shows groups; never a form being filled in (the new-post form).
      if (onBoard() || st.route === 'group' || wasWelcome) route(true);
    }
  }
  let nodeTimer = 0;
  function nodeSoon() {
    if (!nodeTimer) nodeTimer = setTimeout(() => { nodeTimer = 0; loadNode(); }, 500);
  }
  // labelGroups is the node's groups when the board shows more than one of them (cards then name
  // their group), else undefined. On the followed groups' board every card names its group.
  function labelGroups() {
    if (st.route === 'followed') return groups();
    return !F.group && scopeGroups(groups(), 'own').length > 1 ? groups() : undefined;
  }
  function updateStatus() {
    const s = $('status');
    if (!s) return;
    const text = statusText(st.online, st.peers);
    if (s.textContent !== text) s.textContent = text;
    s.className = 'status ' + (st.online ? 'on' : 'off');
  }

  // ---- board ----

  let listFrame = 0;
  function scheduleLists() {
    if (!listFrame) listFrame = requestAnimationFrame(() => { listFrame = 0; renderLists(); });
  }
  function updateCats() {
    const set = new Set();
    for (const p of st.posts.values()) if (p.category) set.add(p.category);
    const cats = Array.from(set).sort((a, b) => a.localeCompare(b));
    const key = cats.join('\n');
    if (key === st.catKey) return;
    st.cats = cats;
    st.catKey = key;
    const sel = $('fl-category');
    if (sel) {
      const cur = F.category;
      sel.innerHTML = [['', t('allCategories')]].concat(cats.map((c) => [c, c]))
        .map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join('');
      sel.value = cur;
    }
  }
  function renderLists() {
    if (!onBoard() || !$('board')) return;
    if (!st.loaded) return;
    updateCats();
    const r = boardLists(st.posts.values(), boardFilter(), Date.now(), labelGroups());
    $('list-need').innerHTML = r.need;
    $('list-offer').innerHTML = r.offer;
    for (const [k, n] of [['need', r.nNeed], ['offer', r.nOffer]]) {
      say('c-' + k, `(${num(n)})`);
      say('n-' + k, `(${num(n)})`);
    }
    $('board').className = `cols show-${st.tab}${F.kind ? ' only-' + F.kind : ''}`;
    return r;
  }
  let qTimer = 0;
  function onFilter(e) {
    const el = e.target;
    if (!el.name || !(el.name in F) || F[el.name] === el.value) return;
    F[el.name] = el.value;
    if (el.name === 'group') {
      store('filter-group', el.value);
      if (el.value) pickGroup(el.value);
    }
    if (el.name === 'fgroup') store('filter-fgroup', el.value);
    clearTimeout(qTimer);
    const show = () => {
      const r = renderLists();
      if (r) announce(t('liveShown', { need: r.nNeed, offer: r.nOffer }));
    };
    if (el.name === 'q') qTimer = setTimeout(show, 300);
    else show();
  }

  // ---- routing ----

  // route renders the view the address names. quiet (true, not an event) redraws it in place, with
  // the focus kept where it was.
  function route(quiet) {
    quiet = quiet === true;
    const h = location.hash.replace(/^#\/?/, '');
    const parts = h.split('/');
    const name = { '': 'board', post: 'post', new: 'new', group: 'group', peers: 'peers', followed: 'followed' }[parts[0]] || 'board';
    st.route = name;
    st.id = name === 'post' ? decodeURIComponent(parts.slice(1).join('/')) : '';
    for (const a of document.querySelectorAll('nav a[data-route]')) {
      if (a.dataset.route === (name === 'followed' ? 'board' : name)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const main = $('main');
    if (!groups().some((g) => g.id === st.group)) st.group = (scopeGroups(groups(), 'own')[0] || groups()[0] || { id: '' }).id;
    if (F.group && !groups().some((g) => g.id === F.group)) F.group = '';
    if (F.fgroup && !groups().some((g) => g.id === F.fgroup && isFollowed(g))) F.fgroup = '';
    if (quiet) return keepFocus(main, () => keepFields(main, () => { render(name, main); flash(); }));
    render(name, main);
    flash();
    const title = $('view-title');
    document.title = (title ? title.textContent + ' — ' : '') + t('appName');
    if (route.done && title) title.focus();
    route.done = true;
  }
  // welcome: a node in no group gets the welcome page instead of the board, the form and the group
  // page (a phone at a meeting never does: its node has the meeting's group).
  const welcome = (name) => !!st.node && !groups().length && !isPhone(st) && name !== 'post' && name !== 'peers';
  function render(name, main) {
    const c = ctx();
    if (welcome(name)) {
      main.innerHTML = viewWelcome(c);
    } else if (name === 'board' || name === 'followed') {
      main.innerHTML = viewBoard(F, Object.assign(c, { scope: name === 'followed' ? 'followed' : 'own' }));
      if (st.loaded) renderLists();
    } else if (name === 'new') {
      main.innerHTML = viewNew(Object.assign(c, { kind: F.kind || 'need', group: F.group || st.group }));
    } else if (name === 'post') {
      showPost(st.id);
    } else if (name === 'group') {
      main.innerHTML = viewGroup(c);
      loadMembers();
      loadShare();
      loadNode(); // a refusal (or a group followed elsewhere) shows on the way in
    } else {
      main.innerHTML = viewPeers(st.peers, c.now);
      loadPeers();
    }
  }
  // flash shows st.flash (what an action did) under the view's title, once.
  function flash() {
    const title = $('view-title');
    if (!st.flash || !title) return;
    title.insertAdjacentHTML('afterend', `<p class="msg" id="flash" role="status">${esc(st.flash)}</p>`);
    st.flash = '';
  }
  // pickGroup makes g the group the Group page, the form and invites work on.
  function pickGroup(g) {
    st.group = g;
    store('group', g);
  }
  async function showPost(id) {
    const main = $('main'), cached = st.posts.get(id);
    main.innerHTML = cached ? viewPost(cached, ctx()) : `<p>${te('loading')}</p>`;
    try {
      const p = await api('GET', '/api/v1/posts/' + encodeURIComponent(id));
      if (st.route !== 'post' || st.id !== id) return;
      if (!cached) {
        st.posts.set(p.id, p);
        main.innerHTML = viewPost(p, ctx());
        document.title = (p.title || '') + ' — ' + t('appName');
      } else {
        upsert(p);
      }
    } catch (e) {
      if (!cached && st.route === 'post' && st.id === id) main.innerHTML = `${heading('notFound')}<p class="err" role="alert">${esc(e.message)}</p><p><a href="#/">${te('backToBoard')}</a></p>`;
    }
  }
  async function loadMembers() {
    const box = $('members');
    if (!box || !st.group) return;
    try {
      const g = await api('GET', '/api/v1/groups/' + encodeURIComponent(st.group));
      if ($('members') !== box) return;
      box.innerHTML = membersTable(g);
      showFed(g);
    } catch (e) {
      box.innerHTML = `<p class="err" role="alert">${esc(e.message)}</p>`;
    }
  }

  // ---- actions ----

  // giveName sends the name a phone typed into a form (v.by), if the form asked for one.
  async function giveName(v) {
    if (!('by' in v)) return;
    st.session = await api('POST', '/api/v1/session', { name: v.by });
    showWho();
    for (const el of document.querySelectorAll('.field.who')) el.remove();
  }
  function showWho() {
    const n = st.node || {}, name = n.name || short(n.peer_id), el = $('node-name');
    if (el) el.innerHTML = isPhone(st) && st.session.name ? tu('youVia', { name: u(st.session.name), node: u(name) }) : u(name);
  }

  const submits = {
    async new(form) {
      const v = formValuesOf(form);
      await giveName(v);
      const p = await api('POST', '/api/v1/posts', postBody(v));
      upsert(p);
      location.hash = '#/post/' + encodeURIComponent(p.id);
    },
    async edit(form) {
      const p = st.posts.get(st.id);
      const body = postBody(formValuesOf(form), formValues(p));
      if (!Object.keys(body).length) return say('edit-msg', t('nothingChanged'));
      const np = await api('PATCH', '/api/v1/posts/' + encodeURIComponent(st.id), body);
      st.posts.set(np.id, np);
      $('main').innerHTML = viewPost(np, ctx());
      say('help-msg', '');
      const title = $('view-title');
      if (title) title.focus();
    },
    async help(form) {
      const v = formValuesOf(form), body = {};
      await giveName(v);
      if (v.quantity.trim()) body.quantity = Number(v.quantity);
      if (v.note.trim()) body.note = v.note.trim();
      if (v.contact && v.contact.trim()) body.contact = v.contact.trim();
      if (v.as_group) body.as_group = v.as_group;
      const p = await api('POST', '/api/v1/posts/' + encodeURIComponent(st.id) + '/responses', body);
      upsert(p);
      form.reset();
      say('help-msg', t('helpSent'));
    },
    async rename(form) {
      st.node = await api('PATCH', '/api/v1/node', { name: formValuesOf(form).name.trim() });
      showWho();
      const dd = document.querySelector('#main dl.fields dd');
      if (dd) dd.textContent = st.node.name;
      say('rn-msg', t('nodeRenamed'));
      loadMembers();
    },
    async whoami(form) {
      st.session = await api('POST', '/api/v1/session', { name: formValuesOf(form).name });
      showWho();
      say('who-msg', t('nameSaved'));
    },
    async invite(form) {
      const v = formValuesOf(form);
      const r = await api('POST', '/api/v1/invites', { group: st.group, role: v.role, expires: v.expires });
      $('inv-out').innerHTML = inviteResult(r.code);
    },
    async start(form) {
      await saveNodeName();
      const g = await api('POST', '/api/v1/groups', { name: formValuesOf(form).name.trim() });
      await afterGroup(g, t('groupStarted', { name: g.name }), 'group');
    },
    async join(form) {
      const code = inviteCode(formValuesOf(form).code);
      if (!code) throw new Error(t('noCode'));
      await saveNodeName();
      const g = await api('POST', '/api/v1/join', { code });
      await afterGroup(g, t('joined', { name: g.name || short(g.id) }), '');
    },
    async import(form) {
      const file = $('imp-file').files[0];
      if (!file) throw new Error(t('chooseFile'));
      const r = await api('POST', '/api/v1/import/csv?group=' + encodeURIComponent(st.group), file, 'text/csv');
      $('imp-out').innerHTML = importResult(r);
      if (!st.online) loadPosts();
    },
  };
  const errBox = { rename: 'rn-err', new: 'new-err', edit: 'edit-err', help: 'help-err', whoami: 'who-err', invite: 'inv-err', import: 'imp-err', start: 'start-err', join: 'join-err' };

  // saveNodeName names the node from the welcome page's field, before the op that carries the name.
  async function saveNodeName() {
    const el = $('ob-name');
    if (!el) return;
    const name = el.value.trim();
    if (!name) {
      el.focus();
      throw new Error(t('needNodeName'));
    }
    if (name !== (st.node || {}).name) {
      st.node = await api('PATCH', '/api/v1/node', { name });
      showWho();
    }
  }
  // afterGroup shows the group just started or joined: it becomes the chosen group, and the page
  // goes to where (a route) with msg under the title.
  async function afterGroup(g, msg, where) {
    pickGroup(g.id);
    await loadNode(true);
    loadPosts();
    loadPeers();
    st.flash = msg;
    if (location.hash.replace(/^#\/?/, '') === where) route();
    else location.hash = '#/' + where;
  }

  const acts = {
    tab(b) {
      st.tab = b.dataset.tab;
      for (const x of document.querySelectorAll('[data-act="tab"]')) x.setAttribute('aria-pressed', String(x === b));
      $('board').className = `cols show-${st.tab}${F.kind ? ' only-' + F.kind : ''}`;
    },
    print() {
      window.print();
    },
    // status keeps the focus on the pressed button: it is re-rendered with the same id, which
    // keepFocus (in upsert) focuses again.
    async status(b) {
      if (b.getAttribute('aria-disabled') === 'true') return;
      say('status-err', '');
      b.setAttribute('aria-disabled', 'true');
      try {
        upsert(await api('POST', '/api/v1/posts/' + encodeURIComponent(st.id) + '/status', { status: b.dataset.status }));
      } catch (e) {
        say('status-err', e.message);
      } finally {
        const nb = $(b.id) || b;
        nb.removeAttribute('aria-disabled');
        holdFocus(b.id);
      }
    },
    // unrespond removes the button pressed: the focus goes to the responses heading.
    async unrespond(b) {
      if (b.getAttribute('aria-disabled') === 'true') return;
      say('resp-err', '');
      b.setAttribute('aria-disabled', 'true');
      try {
        upsert(await api('DELETE', '/api/v1/posts/' + encodeURIComponent(st.id) + '/responses/' + encodeURIComponent(b.dataset.rid)));
        holdFocus('resp-h');
      } catch (e) {
        say('resp-err', e.message);
        b.removeAttribute('aria-disabled');
      }
    },
    async digest() {
      say('digest-err', '');
      say('digest-msg', '');
      try {
        const text = await api('GET', '/api/v1/digest?group=' + encodeURIComponent(st.group));
        const ta = $('digest-text');
        ta.value = text;
        $('digest-box').hidden = false;
        let ok = false;
        try {
          await navigator.clipboard.writeText(text);
          ok = true;
        } catch (e) {
          ta.focus();
          ta.select();
          try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
        }
        say('digest-msg', t(ok ? 'copied' : 'copyManually'));
      } catch (e) {
        say('digest-err', e.message);
      }
    },
    async revoke() {
      if (!window.confirm(t('endSessionsConfirm'))) return;
      say('revoke-err', '');
      try {
        await api('POST', '/api/v1/sessions/revoke', {});
        say('revoke-msg', t('sessionsEnded'));
      } catch (e) {
        say('revoke-err', e.message);
      }
    },
    pick(b) {
      const g = groups().find((x) => x.id === b.dataset.group);
      if (!g) return;
      pickGroup(g.id);
      if (isFollowed(g)) {
        F.fgroup = g.id;
        store('filter-fgroup', g.id);
      } else {
        F.group = scopeGroups(groups(), 'own').length > 1 ? g.id : '';
        store('filter-group', F.group);
      }
      st.flash = t('nowShowing', { name: g.name || short(g.id) });
      route();
    },
    skip() {
      const m = $('main');
      m.focus();
      m.scrollIntoView();
    },
  };

  // ---- following ----

  const onBoard = () => st.route === 'board' || st.route === 'followed';
  // boardFilter is F as the board shown applies it: to the node's own groups' posts, or (route
  // followed) to those of the groups it follows.
  function boardFilter() {
    const fol = st.route === 'followed', gs = groups();
    return Object.assign({}, F, { group: fol ? F.fgroup : F.group,
      only: gs.length ? new Set(scopeGroups(gs, fol ? 'followed' : 'own').map((g) => g.id)) : undefined });
  }
  // st.fed is the federation settings shown on the Group page: {group, federation}.
  function showFed(g) {
    const box = $('fed');
    if (!box || g.id !== st.group) return;
    st.fed = { group: g.id, federation: g.federation || {} };
    keepFocus(box, () => { box.innerHTML = fedBox(g, groups()); });
  }
  // saveFed changes the group's federation settings (body: policy, allies or blocked) and shows
  // what the node now holds.
  async function saveFed(body) {
    const gid = st.group;
    const f = await api('POST', '/api/v1/groups/' + encodeURIComponent(gid) + '/federation', body);
    showFed({ id: gid, federation: f });
  }
  const fedNow = (k) => ((st.fed && st.fed.group === st.group && st.fed.federation[k]) || []);
  async function loadShare() {
    const box = $('share-out');
    if (!box || !st.group) return;
    try {
      const r = await api('GET', '/api/v1/groups/' + encodeURIComponent(st.group) + '/share');
      if ($('share-out') === box) box.innerHTML = shareResult(r.code);
    } catch (e) {
      if ($('share-out') === box) box.innerHTML = '';
      say('share-err', e.message);
    }
  }
  // watched holds the groups followed from this page (ID → until when), until their board or a
  // refusal arrives: meanwhile the page reads the node every second, since the event stream
  // carries posts, not refusals.
  const watched = new Map();
  function watching() {
    for (const [id, until] of watched) {
      const g = groups().find((x) => x.id === id);
      if (Date.now() > until || (g && (!isFollowed(g) || g.refused || Array.from(st.posts.values()).some((p) => p.group === id)))) watched.delete(id);
    }
    return watched.size > 0;
  }
  // codeOf reads a follow code or group ID from a form's code field.
  function codeOf(form) {
    const code = followCode(formValuesOf(form).code);
    if (!code) throw new Error(t('noFollowCode'));
    return code;
  }
  async function afterFollow(msg) {
    await loadNode(true);
    loadPosts();
    st.flash = msg;
    if (st.route === 'group') route();
    else location.hash = '#/group';
  }
  Object.assign(submits, {
    async follow(form) {
      const g = await api('POST', '/api/v1/follow', { code: codeOf(form) });
      if (isFollowed(g)) watched.set(g.id, Date.now() + 120e3);
      await afterFollow(t(isFollowed(g) ? 'nowFollowing' : 'alreadyIn', { name: g.name || short(g.id) }));
      loadPeers(); // starts the watch
    },
    async fedpolicy(form) {
      const c = form.querySelector('input[name=policy]:checked');
      await saveFed({ policy: c ? c.value : 'open' });
      say('fed-msg', t('fedSaved'));
    },
    // An ally: this node follows it too, so that it knows the ally's members (whom allies-only
    // serves); the follow answers with the group's ID.
    async addally(form) {
      const g = await api('POST', '/api/v1/follow', { code: codeOf(form) });
      await loadNode(true);
      await saveFed({ allies: fedNow('allies').filter((id) => id !== g.id).concat(g.id) });
      say('fed-msg', t('allyAdded', { name: g.name || short(g.id) }));
    },
    // A blocked group is not followed: the node reads its ID from the code.
    async addblock(form) {
      await saveFed({ blocked: fedNow('blocked').concat(codeOf(form)) });
      say('fed-msg', t('fedSaved'));
    },
  });
  Object.assign(errBox, { follow: 'follow-err', fedpolicy: 'fedpolicy-err', addally: 'addally-err', addblock: 'addblock-err' });
  // fedRemove takes the group of button b off the federation list k (allies or blocked).
  async function fedRemove(b, k) {
    say('fed-err', '');
    try {
      await saveFed({ [k]: fedNow(k).filter((id) => id !== b.dataset.group) });
      holdFocus(k + '-h');
      say('fed-msg', t('fedSaved'));
    } catch (e) {
      say('fed-err', e.message);
    }
  }
  Object.assign(acts, {
    async unfollow(b) {
      const g = groups().find((x) => x.id === b.dataset.group);
      if (!g || !window.confirm(t('unfollowConfirm', { name: g.name || short(g.id) }))) return;
      say('unfollow-err', '');
      try {
        await api('DELETE', '/api/v1/follow/' + encodeURIComponent(g.id));
      } catch (e) {
        return say('unfollow-err', e.message);
      }
      // Its board goes at once (the node has forgotten it).
      for (const [id, p] of st.posts) if (p.group === g.id) st.posts.delete(id);
      watched.delete(g.id);
      await afterFollow(t('unfollowed', { name: g.name || short(g.id) }));
    },
    unally(b) { return fedRemove(b, 'allies'); },
    unblock(b) { return fedRemove(b, 'blocked'); },
    async copyshare() {
      const ta = $('share-code');
      let ok = false;
      try {
        await navigator.clipboard.writeText(ta.value);
        ok = true;
      } catch (e) {
        ta.focus();
        ta.select();
        try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
      }
      say('share-msg', t(ok ? 'copied' : 'copyManually'));
    },
  });

  // ---- live updates ----

  let es = null, retry = 1000;
  function onEvent(e) {
    let d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    if (!d) return;
    if (d.type === 'post' && d.post) upsert(d.post);
    else if (d.type === 'group' && d.group) groupChanged(d.group);
    else if (d.type === 'peers' && !peersTimer) peersTimer = setTimeout(loadPeers, 500);
  }
  // groupChanged: ops of a group's membership arrived (a member renamed itself, a join, an admit):
  // the group's name or role goes through loadNode; members' names, a moment later (a burst of
  // joins is one read), into the members table and the author names of its posts and responses.
  let namesDue = new Set(), namesTimer = 0;
  function groupChanged(g) {
    const had = groups().find((x) => x.id === g.id);
    if (!had || had.name !== g.name || had.role !== g.role) nodeSoon();
    namesDue.add(g.id);
    if (!namesTimer) namesTimer = setTimeout(loadNames, 300);
  }
  async function loadNames() {
    const ids = namesDue;
    namesDue = new Set();
    namesTimer = 0;
    // A phone may not read members: the board again brings the names with the posts.
    if (isPhone(st)) return loadPosts();
    for (const id of ids) {
      let g;
      try { g = await api('GET', '/api/v1/groups/' + encodeURIComponent(id)); } catch (e) { continue; }
      const names = new Map((g.members || []).map((m) => [m.id, m.name]));
      let shown = false;
      for (const p of st.posts.values()) {
        if (p.group !== id) continue;
        let changed = false;
        const fix = (x) => {
          const n = names.get(x.author);
          if (n && !x.visitor && x.author_name !== n) { x.author_name = n; changed = true; }
        };
        fix(p);
        (p.responses || []).forEach(fix);
        if (changed && st.route === 'post' && st.id === p.id) shown = true;
        if (changed && onBoard()) scheduleLists();
      }
      const v = $('post-view');
      if (shown && v) keepFocus(v, () => { v.innerHTML = postDetails(st.posts.get(st.id), ctx()); });
      const box = $('members');
      if (box && st.route === 'group' && st.group === id) box.innerHTML = membersTable(g);
    }
  }
  function connect() {
    if (typeof EventSource === 'undefined') return;
    es = new EventSource('/api/v1/events?with=group');
    es.onopen = () => {
      st.online = true;
      retry = 1000;
      updateStatus();
      if (st.dropped) {
        st.dropped = false;
        loadPosts();
        loadPeers();
      }
    };
    es.onmessage = onEvent;
    es.addEventListener('post', onEvent);
    es.addEventListener('peers', onEvent);
    es.addEventListener('group', onEvent);
    es.onerror = () => {
      st.online = false;
      st.dropped = true;
      updateStatus();
      if (es.readyState === 2) {
        // The browser gave up (e.g. 401): find out why, and try again later.
        es.close();
        api('GET', '/api/v1/node').catch(() => {});
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    };
  }

  // ---- start ----

  // ---- language ----

  const LANG_KEY = 'mutual.lang';
  function savedLang() {
    try { return localStorage.getItem(LANG_KEY) || ''; } catch (e) { return ''; }
  }
  // loadLang loads the strings of language l (i18n/l.js) unless they are here; it never fails (a
  // language that does not load falls back to English).
  function loadLang(l) {
    if (L10N[l] || !own(LANGS, l)) return Promise.resolve();
    return new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = '/i18n/' + l + '.js';
      s.onload = s.onerror = () => resolve();
      document.head.appendChild(s);
    });
  }
  function applyI18n() {
    const html = document.documentElement;
    html.lang = t('_lang');
    html.dir = t('_dir') === 'rtl' ? 'rtl' : 'ltr';
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    const pick = $('lang-pick');
    if (pick) {
      if (!pick.options.length) {
        pick.innerHTML = Object.entries(LANGS).map(([k, name]) =>
          `<option value="${esc(k)}" lang="${esc(k)}" dir="${k === 'ar' ? 'rtl' : 'ltr'}">${esc(name)}</option>`).join('');
      }
      pick.value = lang;
    }
  }
  // switchLang is the language switch: it remembers the choice on this device and redraws the
  // page in it, keeping the focus on the switch.
  async function switchLang(l) {
    try { localStorage.setItem(LANG_KEY, l); } catch (e) { /* private mode: for this visit only */ }
    await loadLang(l);
    setLang(l);
    applyI18n();
    updateStatus();
    showWho();
    keepFields($('main'), route);
    const pick = $('lang-pick');
    if (pick) pick.focus();
  }
  async function start() {
    const want = pickLang(savedLang(), navigator.languages || [navigator.language]);
    await loadLang(want);
    setLang(want);
    applyI18n();
    const pick = $('lang-pick');
    if (pick) pick.addEventListener('change', () => switchLang(pick.value));
    updateStatus();
    const main = $('main');
    main.addEventListener('input', (e) => { if (e.target.form && e.target.form.id === 'filters') onFilter(e); });
    main.addEventListener('change', (e) => {
      const f = e.target.form;
      if (f && f.id === 'filters') onFilter(e);
    });
    main.addEventListener('submit', async (e) => {
      const form = e.target, fn = submits[form.id];
      e.preventDefault();
      if (!fn || form.dataset.busy) return;
      say(errBox[form.id], '');
      busy(form, true);
      try {
        await fn(form);
      } catch (err) {
        say(errBox[form.id], err.message);
      } finally {
        busy(form, false);
      }
    });
    document.addEventListener('click', (e) => {
      const b = e.target.closest('[data-act]');
      if (!b || !acts[b.dataset.act]) return;
      e.preventDefault();
      acts[b.dataset.act](b);
    });
    window.addEventListener('hashchange', route);
    // Close the event stream when the page goes away: a page kept in the back/forward cache
    // otherwise holds its connection, and after a few reloads the browser's six connections to the
    // node are all taken by dead pages and the next page waits for ever. Reopen it on the way back.
    window.addEventListener('pagehide', () => {
      if (es) es.close();
      es = null;
    });
    window.addEventListener('pageshow', (e) => {
      if (e.persisted && !es) {
        st.dropped = true;
        connect();
      }
    });
    connect();
    try {
      st.node = await api('GET', '/api/v1/node');
      st.session = await api('GET', '/api/v1/session');
      showWho();
      showStoreError(st.node.store_error);
    } catch (e) { /* 401 or offline: the banner or status line says so */ }
    route.done = false; // the first view does not take the focus (even if the language switch drew one already)
    if (!groups().some((g) => g.id === F.group) || scopeGroups(groups(), 'own').length < 2) F.group = '';
    route();
    loadPosts();
    loadPeers();
    setInterval(() => {
      loadPeers();
      if (onBoard() && !document.querySelector('#board :focus')) renderLists();
    }, 60e3);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
