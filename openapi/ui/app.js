// Documentation page for an OpenAPI 3.1 document served by the same origin.
//
// Rules this file keeps, so that the page's strict CSP holds and nothing in
// the document can inject markup: every element is built with
// createElement and every text goes through textContent (never innerHTML);
// no inline styles (classes and the hidden attribute only); requests go to
// relative URLs on this origin (connect-src 'self'); credentials typed in
// live in the `credentials` object and the input fields, never in storage,
// cookies or the URL.
'use strict';

(function () {
  const specURL = document.body.dataset.spec;
  const credentials = {}; // security scheme name -> value typed by the user
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  let spec = null;

  function el(tag, className, ...children) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function text(id, value) {
    const e = document.getElementById(id);
    e.textContent = value || '';
    e.hidden = !value;
  }

  function fail(message) {
    const main = document.getElementById('operations');
    main.replaceChildren(el('p', 'error', message));
  }

  async function load() {
    let res;
    try {
      res = await fetch(specURL, { headers: { Accept: 'application/json' }, credentials: 'same-origin', redirect: 'error' });
    } catch (e) {
      fail('The API description could not be loaded: ' + e.message);
      return;
    }
    if (!res.ok) {
      fail('The API description could not be loaded: HTTP ' + res.status + '.');
      return;
    }
    try {
      spec = await res.json();
    } catch (e) {
      fail('The API description is not valid JSON.');
      return;
    }
    render();
  }

  // --- schemas -----------------------------------------------------------

  function refName(ref) {
    const prefix = '#/components/schemas/';
    return typeof ref === 'string' && ref.startsWith(prefix) ? ref.slice(prefix.length) : null;
  }

  function resolve(schema) {
    const name = schema && refName(schema.$ref);
    if (!name) return schema || {};
    const schemas = (spec.components && spec.components.schemas) || {};
    return Object.prototype.hasOwnProperty.call(schemas, name) ? schemas[name] : {};
  }

  function types(schema) {
    if (!schema || schema.type === undefined) return [];
    return Array.isArray(schema.type) ? schema.type : [schema.type];
  }

  function typeLabel(schema) {
    if (!schema) return 'any';
    if (schema.$ref) return refName(schema.$ref) || schema.$ref;
    if (Array.isArray(schema.anyOf)) return schema.anyOf.map(typeLabel).join(' | ');
    const ts = types(schema);
    if (ts.length === 0) return 'any';
    const parts = ts.map(function (t) {
      if (t === 'array') return 'array of ' + typeLabel(schema.items);
      if (t === 'object' && schema.additionalProperties && !schema.properties) {
        return 'map of string to ' + typeLabel(schema.additionalProperties);
      }
      return t;
    });
    let label = parts.join(' | ');
    if (schema.format) label += ' (' + schema.format + ')';
    if (schema.contentEncoding) label += ' (' + schema.contentEncoding + ')';
    if (schema.contentMediaType) label += ' (file: ' + schema.contentMediaType + ')';
    if (Array.isArray(schema.enum)) label += ', one of: ' + schema.enum.join(', ');
    return label;
  }

  // nestedOf finds the object schema inside a member's schema (through
  // null alternatives, array items and map values), if any.
  function nestedOf(schema) {
    if (!schema) return null;
    if (schema.$ref) return schema;
    if (Array.isArray(schema.anyOf)) {
      const real = schema.anyOf.find(function (x) { return !types(x).includes('null'); });
      return real ? nestedOf(real) : null;
    }
    if (schema.items) return nestedOf(schema.items);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') return nestedOf(schema.additionalProperties);
    return schema.properties ? schema : null;
  }

  // schemaView lists an object's members, and their members in turn; seen
  // stops at a component already being shown (recursive types).
  function schemaView(schema, seen, depth) {
    seen = seen || new Set();
    depth = depth || 0;
    const wrap = el('div', 'schema');
    let s = schema;
    const name = s && refName(s.$ref);
    if (name) {
      if (seen.has(name) || depth > 8) {
        wrap.append(el('span', 'type', name + ' (see above)'));
        return wrap;
      }
      seen = new Set(seen).add(name);
      s = resolve(s);
    }
    if (s && Array.isArray(s.anyOf)) {
      const real = s.anyOf.filter(function (x) { return !types(x).includes('null'); });
      wrap.append(el('span', 'type', typeLabel(s)));
      if (real.length === 1) wrap.append(schemaView(real[0], seen, depth + 1));
      return wrap;
    }
    if (!s || !s.properties) {
      wrap.append(el('span', 'type', typeLabel(name ? schema : s)));
      const nested = s && nestedOf(s.items || s.additionalProperties);
      if (nested && resolve(nested).properties) wrap.append(schemaView(nested, seen, depth + 1));
      if (s && s.description) wrap.append(el('p', 'desc', s.description));
      return wrap;
    }
    if (name) wrap.append(el('span', 'type', name));
    const required = new Set(s.required || []);
    const list = el('ul', 'members');
    for (const [prop, ps] of Object.entries(s.properties)) {
      const item = el('li', null,
        el('code', 'member', prop),
        required.has(prop) ? el('span', 'required', ' required') : el('span', 'optional', ' optional'),
        ' ',
        el('span', 'type', typeLabel(ps)));
      const nested = nestedOf(ps);
      if (nested && resolve(nested).properties) item.append(schemaView(nested, seen, depth + 1));
      if (ps.description) item.append(el('p', 'desc', ps.description));
      list.append(item);
    }
    wrap.append(list);
    return wrap;
  }

  // example builds a value of the schema's shape, to prefill request bodies.
  function example(schema, seen) {
    seen = seen || new Set();
    const name = schema && refName(schema.$ref);
    if (name) {
      if (seen.has(name)) return null;
      return example(resolve(schema), new Set(seen).add(name));
    }
    if (!schema) return null;
    if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
    if (Array.isArray(schema.anyOf)) {
      const real = schema.anyOf.find(function (x) { return !types(x).includes('null'); });
      return real ? example(real, seen) : null;
    }
    const t = types(schema).find(function (x) { return x !== 'null'; });
    switch (t) {
      case 'string': return schema.format === 'date-time' ? new Date().toISOString() : '';
      case 'integer': case 'number': return 0;
      case 'boolean': return false;
      case 'array': return [];
      case 'object': {
        const out = {};
        for (const [prop, ps] of Object.entries(schema.properties || {})) out[prop] = example(ps, seen);
        return out;
      }
      default: return null;
    }
  }

  // --- credentials ---------------------------------------------------------

  function renderCredentials() {
    const schemes = (spec.components && spec.components.securitySchemes) || {};
    const names = Object.keys(schemes);
    const box = document.getElementById('credential-fields');
    box.replaceChildren();
    for (const name of names) {
      const s = schemes[name];
      let label = name;
      if (s.type === 'http' && String(s.scheme).toLowerCase() === 'bearer') label = 'Bearer token' + (s.bearerFormat ? ' (' + s.bearerFormat + ')' : '');
      else if (s.type === 'apiKey') label = s.name + ' ' + s.in;
      const input = el('input');
      input.type = 'password';
      input.autocomplete = 'off';
      input.spellcheck = false;
      input.id = 'cred-' + name;
      input.addEventListener('input', function () { credentials[name] = input.value.trim(); });
      const lab = el('label', null, label + ' ');
      lab.htmlFor = input.id;
      const row = el('div', 'credential', lab, input);
      if (s.description) row.append(el('p', 'desc', s.description));
      box.append(row);
    }
    document.getElementById('credentials').hidden = names.length === 0;
  }

  // applyCredential adds the first credential the user typed that the
  // operation accepts, in the operation's order, as the router tries them.
  function applyCredential(op, headers) {
    const schemes = (spec.components && spec.components.securitySchemes) || {};
    for (const requirement of op.security || []) {
      for (const name of Object.keys(requirement)) {
        const value = credentials[name];
        const s = schemes[name];
        if (!value || !s) continue;
        if (s.type === 'http' && String(s.scheme).toLowerCase() === 'bearer') {
          headers.set('Authorization', 'Bearer ' + value);
          return name;
        }
        if (s.type === 'apiKey' && s.in === 'header') {
          headers.set(s.name, value);
          return name;
        }
      }
    }
    return null;
  }

  // --- operations ------------------------------------------------------------

  function accessText(op) {
    const reqs = op.security || [];
    if (reqs.length === 0) return 'No credential.';
    const names = reqs.flatMap(function (r) { return Object.keys(r); });
    const optional = reqs.some(function (r) { return Object.keys(r).length === 0; });
    return (optional ? 'Optional credential: ' : 'Credential: ') + names.join(' or ') + '.';
  }

  function facts(op) {
    const dl = el('dl', 'facts');
    const add = function (k, v) { if (v) dl.append(el('dt', null, k), el('dd', null, v)); };
    add('Access', accessText(op));
    add('Guards', (op['x-warden-guards'] || []).join(', '));
    add('Rate limits', (op['x-warden-rate-limits'] || []).map(function (l) {
      return l.name + ': ' + Math.round(l.rate_per_second * 60 * 100) / 100 + ' per minute, burst ' + l.burst;
    }).join('; '));
    if (op['x-warden-throttled']) add('Throttle', 'The server-wide limit per caller applies too.');
    if (op.requestBody) add('Body limit', op['x-warden-body-limit'] + ' bytes');
    if (op['x-warden-no-store']) add('Caching', 'Responses are sent with Cache-Control: no-store.');
    if (op.deprecated) add('Deprecated', 'Yes.');
    return dl;
  }

  function parametersView(params) {
    const table = el('table', 'params', el('thead', null, el('tr', null,
      el('th', null, 'name'), el('th', null, 'in'), el('th', null, 'type'), el('th', null, 'description'))));
    const body = el('tbody');
    for (const p of params) {
      body.append(el('tr', null,
        el('td', null, el('code', null, p.name), p.required ? el('span', 'required', ' required') : null),
        el('td', null, p.in), el('td', null, typeLabel(p.schema)), el('td', null, p.description || '')));
    }
    table.append(body);
    return table;
  }

  function responsesView(responses) {
    const list = el('div', 'responses');
    const codes = Object.keys(responses).sort(function (a, b) {
      return (a === 'default') - (b === 'default') || a.localeCompare(b);
    });
    for (const code of codes) {
      const r = responses[code];
      const item = el('div', 'response', el('h5', null, el('span', 'status s' + code.charAt(0), code), ' ', r.description || ''));
      for (const [ct, media] of Object.entries(r.content || {})) {
        item.append(el('p', 'ct', ct));
        item.append(schemaView(media.schema));
      }
      const headers = Object.keys(r.headers || {});
      if (headers.length) item.append(el('p', 'headers', 'Headers: ' + headers.join(', ')));
      list.append(item);
    }
    return list;
  }

  function tryView(method, path, op) {
    const box = el('div', 'try', el('h4', null, 'Try it'));
    const inputs = {};
    for (const p of op.parameters || []) {
      const input = el('input');
      input.id = 'p-' + op.operationId + '-' + p.in + '-' + p.name;
      input.spellcheck = false;
      const lab = el('label', null, p.name + ' (' + p.in + (p.required ? ', required' : '') + ') ');
      lab.htmlFor = input.id;
      box.append(el('div', 'field', lab, input));
      inputs[p.in + ':' + p.name] = { param: p, input: input };
    }
    let bodyInput = null;
    const media = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    if (media) {
      bodyInput = el('textarea');
      bodyInput.id = 'b-' + op.operationId;
      bodyInput.rows = 8;
      bodyInput.spellcheck = false;
      bodyInput.value = JSON.stringify(example(media.schema), null, 2);
      const lab = el('label', null, 'Body (application/json' + (op.requestBody.required ? '' : ', optional') + ')');
      lab.htmlFor = bodyInput.id;
      box.append(el('div', 'field', lab, bodyInput));
    } else if (op.requestBody) {
      box.append(el('p', 'note', 'This page sends JSON bodies only; send ' +
        Object.keys(op.requestBody.content || {}).join(', ') + ' with another client (curl -F, for a multipart body).'));
    }
    const send = el('button', null, 'Send');
    send.type = 'button';
    const out = el('pre', 'result');
    out.hidden = true;
    send.addEventListener('click', function () {
      run(method, path, op, inputs, bodyInput, out, send);
    });
    box.append(send, out);
    return box;
  }

  async function run(method, path, op, inputs, bodyInput, out, button) {
    out.hidden = false;
    let missing = null;
    const url = path.replace(/\{([^}]+)\}/g, function (_, name) {
      const entry = inputs['path:' + name];
      const value = entry ? entry.input.value : '';
      if (!value) missing = name;
      return encodeURIComponent(value);
    });
    if (missing) {
      out.textContent = 'Fill in the path parameter ' + missing + '.';
      return;
    }
    const query = new URLSearchParams();
    for (const entry of Object.values(inputs)) {
      if (entry.param.in === 'query' && entry.input.value !== '') query.append(entry.param.name, entry.input.value);
    }
    const headers = new Headers({ Accept: 'application/json, application/problem+json' });
    const used = applyCredential(op, headers);
    const init = { method: method.toUpperCase(), headers: headers, credentials: 'same-origin', redirect: 'error', cache: 'no-store' };
    if (bodyInput && bodyInput.value.trim() !== '') {
      headers.set('Content-Type', 'application/json');
      init.body = bodyInput.value;
    }
    let base = '';
    const server = spec.servers && spec.servers[0] && spec.servers[0].url;
    if (typeof server === 'string' && server.startsWith('/') && !server.startsWith('//')) base = server.replace(/\/+$/, '');
    const target = base + url + (query.toString() ? '?' + query.toString() : '');
    button.disabled = true;
    out.textContent = init.method + ' ' + target + (used ? ' (with ' + used + ')' : '') + '\n…';
    const started = performance.now();
    try {
      const res = await fetch(target, init);
      const body = await res.text();
      const lines = [init.method + ' ' + target + (used ? ' (with ' + used + ')' : ''),
        res.status + ' ' + res.statusText + ' in ' + Math.round(performance.now() - started) + ' ms', ''];
      res.headers.forEach(function (v, k) { lines.push(k + ': ' + v); });
      lines.push('');
      let shown = body;
      try { shown = JSON.stringify(JSON.parse(body), null, 2); } catch (e) { /* not JSON: shown as sent */ }
      lines.push(shown);
      out.textContent = lines.join('\n');
    } catch (e) {
      out.textContent = 'The request failed: ' + e.message;
    } finally {
      button.disabled = false;
    }
  }

  function operationView(method, path, op) {
    const summary = el('summary', null,
      el('span', 'method m-' + method, method.toUpperCase()), ' ',
      el('code', 'path', path), ' ',
      el('span', 'summary', op.summary || ''));
    const body = el('div', 'op-body');
    if (op.description) body.append(el('p', 'desc', op.description));
    body.append(facts(op));
    if (op.parameters && op.parameters.length) body.append(el('h4', null, 'Parameters'), parametersView(op.parameters));
    if (op.requestBody) {
      body.append(el('h4', null, 'Request body' + (op.requestBody.required ? '' : ' (optional)')));
      for (const [ct, media] of Object.entries(op.requestBody.content || {})) {
        body.append(el('p', 'ct', ct), schemaView(media.schema));
      }
    }
    body.append(el('h4', null, 'Responses'), responsesView(op.responses || {}));
    body.append(tryView(method, path, op));
    const details = el('details', 'op' + (op.deprecated ? ' deprecated' : ''), summary, body);
    details.id = 'op-' + op.operationId;
    return details;
  }

  function render() {
    const info = spec.info || {};
    document.title = (info.title || 'API') + ' documentation';
    text('title', info.title || 'API documentation');
    text('version', info.version ? 'Version ' + info.version + ' · OpenAPI ' + spec.openapi : '');
    text('description', info.description || info.summary || '');
    renderCredentials();

    const groups = new Map();
    for (const t of spec.tags || []) groups.set(t.name, { tag: t, ops: [] });
    const paths = Object.keys(spec.paths || {}).sort();
    for (const path of paths) {
      const item = spec.paths[path];
      for (const m of methods) {
        const op = item[m];
        if (!op) continue;
        const tags = op.tags && op.tags.length ? op.tags : ['other'];
        for (const t of tags) {
          if (!groups.has(t)) groups.set(t, { tag: { name: t }, ops: [] });
          groups.get(t).ops.push([m, path, op]);
        }
      }
    }
    const main = document.getElementById('operations');
    const toc = document.getElementById('toc');
    main.replaceChildren();
    toc.replaceChildren();
    for (const [name, g] of groups) {
      if (g.ops.length === 0) continue;
      const id = 'tag-' + name.replace(/[^A-Za-z0-9_-]/g, '_');
      const link = el('a', null, name + ' (' + g.ops.length + ')');
      link.href = '#' + id;
      toc.append(link);
      const section = el('section', 'tag', el('h2', null, name));
      section.id = id;
      if (g.tag.description) section.append(el('p', 'desc', g.tag.description));
      for (const [m, path, op] of g.ops) section.append(operationView(m, path, op));
      main.append(section);
    }
    if (!main.hasChildNodes()) main.append(el('p', null, 'The document describes no operation.'));
  }

  load();
})();
