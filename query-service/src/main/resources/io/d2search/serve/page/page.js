// The d2search search page: searches over POST /search and reports clicks over POST /clicks, as any client should:
// the query id the search returned, the rank the result was shown at, and the time spent on it (dwell), measured
// from the click until the user comes back to this page (or leaves it).
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const tokenKey = 'd2search.token';
  $('token').value = sessionStorage.getItem(tokenKey) || '';
  let pending = null; // the click whose dwell is being measured: {queryId, passageId, rank, at}

  function headers() {
    const h = { 'Content-Type': 'application/json' };
    const token = $('token').value.trim();
    if (token) {
      sessionStorage.setItem(tokenKey, token);
      h.Authorization = 'Bearer ' + token;
    }
    return h;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  function fmt(x) {
    return x === null || x === undefined ? '—' : Number(x).toFixed(4);
  }

  function stage(s) {
    return s ? '#' + s.rank + ' (' + fmt(s.score) + ')' : '—';
  }

  function explainTable(r) {
    const e = r.explain;
    if (!e) {
      return [];
    }
    const rows = [
      ['vector (HNSW)', stage(e.vector)],
      ['keyword (BM25)', stage(e.keyword)],
      ['first stage', stage(e.firstStage)],
    ];
    if (e.fusion) {
      rows.push(['fusion', e.fusion]);
    }
    rows.push(['IEM logit', fmt(e.iem)], ['final score', fmt(r.score)]);
    return el('details', { class: 'why' }, el('summary', {}, 'Why here?'),
      el('table', {}, rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))));
  }

  function sendClick(reason) {
    if (!pending) {
      return;
    }
    const click = { queryId: pending.queryId, passageId: pending.passageId, rank: pending.rank,
      dwellMs: Math.max(0, Math.round(performance.now() - pending.at)) };
    pending = null;
    // keepalive: the request outlives the page when the user is leaving it.
    fetch('/clicks', { method: 'POST', headers: headers(), body: JSON.stringify(click), keepalive: true })
      .then((res) => { $('status').dataset.lastClick = res.status + ' ' + reason; })
      .catch(() => { $('status').dataset.lastClick = 'failed ' + reason; });
  }

  function clicked(queryId, r, rank) {
    sendClick('next click'); // a click still open when another result is chosen ends now
    pending = { queryId: queryId, passageId: r.passageId, rank: rank, at: performance.now() };
  }

  // The user is back from the result (or leaving): the dwell ends.
  window.addEventListener('focus', () => sendClick('focus'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      sendClick('visible');
    }
  });
  window.addEventListener('pagehide', () => sendClick('pagehide'));

  function render(body) {
    const list = $('results');
    list.replaceChildren();
    list.dataset.queryId = body.queryId;
    $('status').textContent = body.results.length + ' results in ' + body.tookMs + ' ms · model v' +
      body.modelVersion + ' · ' + body.mode + (body.reranked ? ' + IEM re-rank' : '');
    body.results.forEach((r, i) => {
      const rank = i + 1;
      const title = r.title || r.docId;
      const link = el('a', { class: 'title', href: r.url || '#' + encodeURIComponent(r.passageId),
        target: r.url ? '_blank' : '_self', rel: 'noopener', 'data-passage': r.passageId, 'data-rank': rank }, title);
      link.addEventListener('click', () => clicked(body.queryId, r, rank));
      const attrs = Object.entries(r.attributes || {}).map(([k, v]) => el('span', { class: 'attr' }, k + ': ' + v));
      const snippet = r.text.length > 320 ? r.text.slice(0, 320) + '…' : r.text;
      list.append(el('li', { 'data-passage': r.passageId },
        link,
        el('div', { class: 'meta' }, r.passageId + ' · score ' + fmt(r.score) + ' ', attrs),
        el('p', { class: 'snippet' }, snippet),
        explainTable(r)));
    });
  }

  $('search').addEventListener('submit', async (event) => {
    event.preventDefault();
    const ask = { query: $('q').value, k: Number($('k').value) || 10, rerank: $('rerank').checked, explain: true };
    if ($('mode').value) {
      ask.mode = $('mode').value;
    }
    const filter = $('filter').value.trim();
    if (filter) {
      try {
        ask.filter = JSON.parse(filter);
      } catch (e) {
        $('status').textContent = 'The filter is not JSON: ' + e.message;
        return;
      }
    }
    $('status').textContent = 'Searching…';
    try {
      const res = await fetch('/search', { method: 'POST', headers: headers(), body: JSON.stringify(ask) });
      const body = await res.json();
      if (!res.ok) {
        $('results').replaceChildren();
        $('status').textContent = 'Error ' + res.status + ': ' + body.error;
        return;
      }
      render(body);
    } catch (e) {
      $('status').textContent = 'The search failed: ' + e.message;
    }
  });
})();
