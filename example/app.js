// sgID demo SPA for caddy-sgid.
//
// One index.html answers every path; this module picks the view from
// location.pathname. It talks to the same-origin API that caddy-sgid provides
// (the same API the official sgID demo frontend uses):
//   GET /api/auth-url?icecream=<flavour>  -> {"url": "..."}
//   GET /api/userinfo                      -> {"sub": "...", "data": {...}} or 401
// and, through caddy-sgid's browser client /api/sgid.js (docs/spa.md), to its
// session routes: logout (and logout everywhere), the session's end, a
// warning a minute before it, a new login in a popup that leaves this page
// and what was typed in it as they are, and the same in every tab.
// A public officer with several jobs picks the one they act as:
//   GET  /api/profiles       -> {"profiles": [{"id", ...}], "chosen": id|null}
//   POST /api/profiles/<id>  -> the same, with that job chosen
// (404 for someone who is no officer). Until one is chosen, the guard
// answers the API 409 {"error": "profile_required"}.
// POST /api/orders goes to the demo's stand-in API behind the guard.
// Everything that comes from the server or the identity provider is inserted
// with textContent, never as HTML.
import * as sgid from '/api/sgid.js';

(function () {
  var FLAVOURS = ['Vanilla', 'Chocolate', 'Strawberry'];

  // Friendly labels for the sgID scopes we know about. Unknown keys are shown
  // as they are.
  var FIELD_LABELS = {
    'myinfo.name': 'Name',
    'myinfo.nric_number': 'NRIC',
    'myinfo.email': 'Email',
    'myinfo.mobile_number': 'Mobile',
    'myinfo.mobile_number_with_country_code': 'Mobile (with country code)',
    'myinfo.date_of_birth': 'Date of birth',
    'myinfo.registered_address': 'Registered address',
    'myinfo.sex': 'Sex',
    'myinfo.race': 'Race',
    'myinfo.nationality': 'Nationality',
    'myinfo.residentialstatus': 'Residential status',
    'myinfo.birth_country': 'Country of birth',
    'myinfo.passport_number': 'Passport number',
    'myinfo.passport_expiry_date': 'Passport expiry date',
    'myinfo.marital_status': 'Marital status',
    'myinfo.housingtype': 'Housing type',
    'myinfo.hdbtype': 'HDB flat type',
    'myinfo.name_of_employer': 'Employer',
    'myinfo.workpass_status': 'Work pass status',
    'myinfo.workpass_expiry_date': 'Work pass expiry date',
    'myinfo.vehicles': 'Vehicles',
    'myinfo.sponsored_child_records': 'Sponsored children',
    'pocdex.public_officer_details': 'Public officer details'
  };

  // Keys inside JSON values (vehicles, child records, ...) are snake_case;
  // these words read better in capitals.
  var WORD_CAPS = { nric: 'NRIC', id: 'ID', hdb: 'HDB', uen: 'UEN', dob: 'DOB' };

  var ERROR_REASONS = {
    access_denied: 'You cancelled the login at sgID, so you were not logged in.',
    login_expired: 'The login took too long, or it was started in another browser. Please start again from this browser.',
    state_mismatch: 'The answer from sgID did not match the login this browser started, so it was rejected to keep you safe.',
    missing_code: 'sgID sent you back without a login code, so the login could not be finished.',
    code_rejected: 'sgID did not accept this login: it was already used or took too long. Please log in again.',
    provider_error: 'sgID could not be reached, or it answered in a way this app did not expect.',
    invalid_token: 'The identity token from sgID could not be verified, so it was not trusted.',
    userinfo_failed: 'You logged in, but your details could not be fetched from sgID.',
    no_session: 'Your login session was not found. It may have expired, or this browser may be blocking cookies.',
    server_error: 'Something went wrong on the server while finishing your login.'
  };
  var ERROR_GENERIC = 'Something went wrong while logging you in.';

  var app = document.getElementById('app');
  var view = null; // the template shown

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(templateId, title) {
    var tpl = document.getElementById(templateId);
    var content = tpl.content.cloneNode(true);
    fillCones(content);
    app.replaceChildren(content);
    view = templateId;
    document.title = title ? title + ' · sgID demo' : 'sgID demo';
    return app;
  }

  function flavourClass(flavour) {
    var f = String(flavour || '').toLowerCase();
    return FLAVOURS.some(function (x) { return x.toLowerCase() === f; }) ? 'flavour--' + f : 'flavour--other';
  }

  // A small ice-cream cone; the scoop colour comes from CSS (--scoop).
  var SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function cone() {
    var root = svg('svg', { viewBox: '0 0 48 64', width: '48', height: '64', 'aria-hidden': 'true', focusable: 'false', 'class': 'cone' });
    root.appendChild(svg('path', { 'class': 'cone__wafer', d: 'M11 31h26L25.6 60.5a1.8 1.8 0 0 1-3.2 0z' }));
    root.appendChild(svg('path', { 'class': 'cone__grid', d: 'M15 31l12.5 19M21 31l9.2 13.5M27 31l5.6 8.2M33 31l1.7 2.5M33 31L20.5 50M27 31l-9.2 13.5M21 31l-5.6 8.2M15 31l-1.7 2.5' }));
    root.appendChild(svg('circle', { 'class': 'cone__scoop', cx: '24', cy: '20', r: '13' }));
    root.appendChild(svg('rect', { 'class': 'cone__rim', x: '9', y: '27', width: '30', height: '6', rx: '3' }));
    root.appendChild(svg('ellipse', { 'class': 'cone__shine', cx: '19', cy: '14', rx: '4', ry: '2.6', transform: 'rotate(-30 19 14)' }));
    return root;
  }
  function fillCones(root) {
    root.querySelectorAll('[data-cone]').forEach(function (slot) { slot.appendChild(cone()); });
  }

  // Reads a response body as JSON without trusting it: returns undefined when
  // the body is not JSON at all (a 401 may well be plain text).
  function readJSON(response) {
    return response.text().then(function (text) {
      try { return JSON.parse(text); } catch (e) { return undefined; }
    });
  }

  function isPlainObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  // ------------------------------------------------------------------- home

  function renderHome() {
    show('tpl-home', null);
    var form = document.getElementById('login-form');
    var button = document.getElementById('login');
    var errorBox = document.getElementById('login-error');

    function setBusy(busy) {
      button.disabled = busy;
      button.classList.toggle('is-busy', busy);
      button.setAttribute('aria-busy', busy ? 'true' : 'false');
      button.querySelector('.button__label').textContent = busy ? 'Taking you to Singpass…' : 'Log in with Singpass';
    }

    function fail(message) {
      setBusy(false);
      errorBox.textContent = message;
      errorBox.hidden = false;
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (button.disabled) return;
      var checked = form.querySelector('input[name="icecream"]:checked');
      var flavour = checked ? checked.value : 'Vanilla';
      errorBox.hidden = true;
      errorBox.textContent = '';
      setBusy(true);

      fetch('/api/auth-url?icecream=' + encodeURIComponent(flavour), { credentials: 'include' })
        .then(function (response) {
          return readJSON(response).then(function (body) {
            var url = isPlainObject(body) && typeof body.url === 'string' ? body.url.trim() : '';
            if (!url) {
              var why = response.ok ? 'the server did not send a login address' : 'the server answered HTTP ' + response.status;
              throw new Error('Could not start the login: ' + why + '. Please try again.');
            }
            var target;
            try { target = new URL(url, window.location.href); } catch (e) { target = null; }
            if (!target || (target.protocol !== 'https:' && target.protocol !== 'http:')) {
              throw new Error('Could not start the login: the server sent an unusable login address.');
            }
            window.location.href = target.href;
          });
        }, function () {
          throw new Error('Could not reach the server to start the login. Check your connection and try again.');
        })
        .catch(function (err) { fail(err && err.message ? err.message : 'Could not start the login. Please try again.'); });
    });

    // Coming back with the browser's Back button restores this page from the
    // back/forward cache with the button still disabled: re-enable it.
    window.addEventListener('pageshow', function (event) {
      if (event.persisted) setBusy(false);
    });
  }

  // -------------------------------------------------------------- logged in

  function humanizeKey(key) {
    var words = String(key).split(/[_\s]+/).filter(Boolean).map(function (w) {
      return WORD_CAPS[w.toLowerCase()] || w.toLowerCase();
    });
    if (!words.length) return String(key);
    words[0] = words[0].charAt(0).toUpperCase() + words[0].slice(1);
    return words.join(' ');
  }

  // Strings that look like a JSON array/object are parsed; anything else stays
  // as it is.
  function maybeParse(value) {
    if (typeof value !== 'string') return value;
    var s = value.trim();
    var first = s.charAt(0), last = s.charAt(s.length - 1);
    if ((first === '[' && last === ']') || (first === '{' && last === '}')) {
      try { return JSON.parse(s); } catch (e) { return value; }
    }
    return value;
  }

  // Builds a readable DOM node for a (possibly nested) value.
  function renderValue(value, depth) {
    value = maybeParse(value);
    if (value === null || value === undefined || value === '' || value === 'NA') {
      return el('span', 'value value--empty', 'Not available');
    }
    if (Array.isArray(value)) {
      if (!value.length) return el('span', 'value value--empty', 'None');
      var list = el(depth > 4 ? 'ul' : 'ol', 'value-list');
      value.forEach(function (item) {
        var li = el('li');
        li.appendChild(renderValue(item, depth + 1));
        list.appendChild(li);
      });
      return list;
    }
    if (typeof value === 'object') {
      var keys = Object.keys(value);
      if (!keys.length) return el('span', 'value value--empty', 'None');
      if (depth > 6) return el('span', 'value value--text', JSON.stringify(value));
      var dl = el('dl', 'value-object');
      keys.forEach(function (k) {
        var row = el('div', 'value-object__row');
        row.appendChild(el('dt', null, humanizeKey(k)));
        var dd = el('dd');
        dd.appendChild(renderValue(value[k], depth + 1));
        row.appendChild(dd);
        dl.appendChild(row);
      });
      return dl;
    }
    if (typeof value === 'boolean') return el('span', 'value value--text', value ? 'Yes' : 'No');
    return el('span', 'value value--text', String(value));
  }

  function renderUser(body) {
    show('tpl-logged-in', 'Logged in');
    var data = isPlainObject(body.data) ? body.data : {};
    var name = typeof data['myinfo.name'] === 'string' ? data['myinfo.name'] : '';
    var iceCream = typeof data.iceCream === 'string' ? data.iceCream : '';

    var greeting = document.getElementById('greeting');
    if (name && name !== 'NA') {
      var nameNode = el('span', 'user-name', name);
      nameNode.id = 'user-name';
      greeting.append('Hello, ', nameNode, '!');
      document.title = 'Hello, ' + name + ' · sgID demo';
    } else {
      greeting.textContent = 'Welcome!';
    }

    var favourite = document.getElementById('favourite');
    if (iceCream) {
      document.getElementById('user-icecream').textContent = iceCream;
      favourite.classList.add(flavourClass(iceCream));
    } else {
      favourite.remove();
    }

    var fields = document.getElementById('user-fields');
    var keys = Object.keys(data).filter(function (k) { return k !== 'iceCream'; });
    keys.forEach(function (key) {
      var row = el('div', 'fields__row');
      row.setAttribute('data-key', key);
      var dt = el('dt', 'fields__label', FIELD_LABELS[key] || key);
      if (FIELD_LABELS[key]) dt.title = key;
      var dd = el('dd', 'fields__value');
      dd.appendChild(renderValue(data[key], 0));
      row.appendChild(dt);
      row.appendChild(dd);
      fields.appendChild(row);
    });
    if (!keys.length) {
      fields.hidden = true;
      document.getElementById('user-fields-empty').hidden = false;
    }

    document.getElementById('user-sub').textContent = String(body.sub);
    shownSub = String(body.sub);
    shownFlavour = FLAVOURS.indexOf(iceCream) >= 0 ? iceCream : '';
    setUpOrder(shownFlavour);
    loadProfiles();
    watchSession();

    // sgid.logout tells the other tabs, which show that they are logged out.
    var logout = document.getElementById('logout');
    var everywhere = document.getElementById('logout-everywhere');
    var done = function () { window.location.assign('/'); };
    logout.addEventListener('click', function () {
      logout.disabled = everywhere.disabled = true;
      logout.textContent = 'Logging out…';
      sgid.logout().then(done, done);
    });
    // Ends this user's sessions in every browser, not just this one.
    everywhere.addEventListener('click', function () {
      logout.disabled = everywhere.disabled = true;
      everywhere.textContent = 'Logging out everywhere…';
      sgid.logout({ everywhere: true }).then(done, done);
    });
  }

  // The order goes to the API behind the guard through sgid.fetch: if the
  // session has ended, the guard answers 401, the banner asks for a login
  // in a popup, and the same order is sent again after it. Nothing on this
  // page is reloaded, so the form keeps what was typed.
  function setUpOrder(flavour) {
    var form = document.getElementById('order-form');
    var button = document.getElementById('order-submit');
    var result = document.getElementById('order-result');
    if (flavour) document.getElementById('order-flavour').value = flavour;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (button.disabled) return;
      var data = new FormData(form);
      button.disabled = true;
      result.textContent = 'Sending…';
      sgid.fetch('/api/orders', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ flavour: data.get('flavour'), note: data.get('note') })
      }).then(function (response) {
        return readJSON(response).then(function (body) {
          if (response.ok && isPlainObject(body) && typeof body.message === 'string') {
            var officer = typeof body.officer === 'string' ? body.officer : '';
            result.textContent = 'The API answered: ' + body.message + (officer ? ', for ' + officer : '') + '.';
          } else if (response.status === 409 && isPlainObject(body) && body.error === 'profile_required') {
            result.textContent = 'Not sent: choose the profile you act as first.';
            loadProfiles();
          } else if (response.status === 401) {
            result.textContent = 'Not sent: log in again first.';
          } else {
            result.textContent = 'Not sent: the API answered HTTP ' + response.status + '.';
          }
        });
      }, function () {
        result.textContent = 'Not sent: the API could not be reached.';
      }).finally(function () { button.disabled = false; });
    });
  }

  // --------------------------------------------------- officer profiles

  // Shows the jobs of a public officer, and which one they act as. Someone
  // who is no officer (404) sees nothing.
  function loadProfiles() {
    fetch('/api/profiles', { credentials: 'include' })
      .then(function (response) {
        return readJSON(response).then(function (body) {
          if (response.ok && isPlainObject(body) && Array.isArray(body.profiles)) showProfiles(body);
        });
      })
      .catch(function () { /* the profile section stays as it was */ });
  }

  function showProfiles(answer) {
    var section = document.getElementById('officer');
    if (!section) return; // another view is shown now
    var status = document.getElementById('officer-status');
    var options = document.getElementById('officer-options');
    var errorBox = document.getElementById('officer-error');
    var chosen = typeof answer.chosen === 'string' ? answer.chosen : null;
    var current = answer.profiles.filter(function (p) { return p.id === chosen; })[0];
    status.textContent = current
      ? 'You act as ' + (current.employment_title || 'an officer') + ' at ' + (current.agency_name || 'your agency') + '.' +
        (answer.profiles.length > 1 ? ' Pick another job to switch.' : '')
      : 'You hold ' + answer.profiles.length + ' jobs in the public service. Choose the one you act as in this app.';
    options.replaceChildren();
    answer.profiles.forEach(function (p) {
      var button = el('button', 'button button--secondary officer__option');
      button.type = 'button';
      button.setAttribute('data-profile', p.id);
      button.setAttribute('aria-pressed', p.id === chosen ? 'true' : 'false');
      button.appendChild(el('span', 'officer__job', p.employment_title || 'Officer'));
      button.appendChild(el('span', 'officer__where', [p.department_name, p.agency_name].filter(Boolean).join(', ')));
      button.appendChild(el('span', 'officer__email', p.work_email));
      button.disabled = p.id === chosen;
      button.addEventListener('click', function () { chooseProfile(p.id, options, errorBox); });
      var li = el('li');
      li.appendChild(button);
      options.appendChild(li);
    });
    errorBox.hidden = true;
    section.hidden = false;
  }

  function chooseProfile(id, options, errorBox) {
    options.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    fetch('/api/profiles/' + encodeURIComponent(id), { method: 'POST', credentials: 'include' })
      .then(function (response) {
        return readJSON(response).then(function (body) {
          if (response.ok && isPlainObject(body) && Array.isArray(body.profiles)) {
            showProfiles(body);
            return;
          }
          throw new Error(response.status === 404
            ? 'That job is no longer on offer; the list is shown again.'
            : 'The job could not be chosen (HTTP ' + response.status + ').');
        });
      })
      .catch(function (err) {
        errorBox.textContent = err && err.message ? err.message : 'The job could not be chosen.';
        errorBox.hidden = false;
        loadProfiles();
      });
  }

  // ---------------------------------------------------------- the session

  // A minute before the session ends, a banner offers to stay logged in
  // (the idle end, which activity moves) or to log in again (the absolute
  // end, which only a new login moves). Once it has ended, "Log in again"
  // logs in in a popup; a request that met the end waits for that login
  // and is then sent again.
  var banner = document.getElementById('session-banner');
  var bannerText = document.getElementById('session-banner-text');
  var stayButton = document.getElementById('stay-logged-in');
  var againButton = document.getElementById('log-in-again');
  var countdown = 0;
  var relogin = null; // {promise, resolve} while requests wait for a login
  var watching = false;
  var shownSub = null;
  var shownFlavour = '';

  function setBanner(text, canExtend) {
    clearInterval(countdown);
    bannerText.textContent = text;
    stayButton.hidden = !canExtend;
    againButton.hidden = canExtend;
    banner.hidden = false;
  }

  function hideBanner() {
    clearInterval(countdown);
    banner.hidden = true;
  }

  function warn(w) {
    if (view !== 'tpl-logged-in' || relogin) return;
    var idle = w.session.idle_expires_at === w.expiresAt;
    var until = Date.now() + w.remaining * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      bannerText.textContent = (idle ? 'You will be logged out for inactivity in ' : 'Your login ends in ') + left + ' s.';
    };
    setBanner('', idle);
    tick();
    countdown = setInterval(tick, 1000);
  }

  function ended() {
    setBanner('Your session has ended. Log in again to carry on: this page keeps what you typed.', false);
  }

  // sgid.fetch calls this on a 401 that asks for a login; the request is
  // sent again once the promise resolves.
  function needLogin() {
    ended();
    if (!relogin) {
      relogin = {};
      relogin.promise = new Promise(function (resolve) { relogin.resolve = resolve; });
    }
    return relogin.promise;
  }

  function loggedInAgain() {
    hideBanner();
    if (relogin) {
      relogin.resolve();
      relogin = null;
    }
  }

  stayButton.addEventListener('click', function () {
    stayButton.disabled = true;
    sgid.extend().then(hideBanner, ended).finally(function () { stayButton.disabled = false; });
  });

  // From a click, so the browser lets the login window open. The flavour
  // goes with the new login, as with the first one.
  againButton.addEventListener('click', function () {
    againButton.disabled = true;
    sgid.login({ popup: true, params: shownFlavour ? { icecream: shownFlavour } : undefined })
      .then(loggedInAgain, function (err) {
        bannerText.textContent = err && err.code === 'popup_closed'
          ? 'The login window was closed. Log in again to carry on.'
          : 'The login did not complete. Please try again.';
      })
      .finally(function () { againButton.disabled = false; });
  });

  function watchSession() {
    if (watching) return;
    watching = true;
    sgid.before('any', 60, warn);
  }

  sgid.configure({ onLoginRequired: needLogin });

  // Changes in this tab or another one.
  sgid.onChange(function (e) {
    if (e.type === 'login') {
      loggedInAgain();
      if (view === 'tpl-signed-out' || (view === 'tpl-logged-in' && e.session.sub !== shownSub)) renderLoggedIn();
    } else if (e.type === 'extend') {
      if (!relogin) hideBanner();
    } else if (view === 'tpl-logged-in') {
      if (e.type === 'expired') {
        ended();
      } else if (e.remote) { // logout: this tab's own button goes home
        hideBanner();
        renderSignedOut('You logged out in another tab.');
      }
    }
  });

  function renderSignedOut(detail) {
    show('tpl-signed-out', 'Not logged in');
    if (detail) {
      var box = document.getElementById('signed-out-detail');
      box.textContent = detail;
      box.hidden = false;
    }
  }

  function renderLoggedIn() {
    show('tpl-loading', 'Loading');
    fetch('/api/userinfo', { credentials: 'include' })
      .then(function (response) {
        return readJSON(response).then(function (body) {
          if (response.status === 200 && isPlainObject(body) && typeof body.sub === 'string' && body.sub !== '') {
            renderUser(body);
          } else if (response.status >= 500) {
            renderSignedOut('The server could not load your details (HTTP ' + response.status + '). Please log in again.');
          } else {
            renderSignedOut(null);
          }
        });
      }, function () {
        renderSignedOut('The server could not be reached. Check your connection and reload the page.');
      })
      .catch(function () { renderSignedOut(null); });
  }

  // ------------------------------------------------------------------ error

  function renderError() {
    show('tpl-error', 'Login did not complete');
    var code = new URLSearchParams(window.location.search).get('reason') || '';
    var known = Object.prototype.hasOwnProperty.call(ERROR_REASONS, code);
    document.getElementById('error-reason').textContent = known ? ERROR_REASONS[code] : ERROR_GENERIC;
    if (code) {
      document.getElementById('error-code').textContent = code;
    } else {
      document.getElementById('error-code-line').remove();
    }
  }

  // ------------------------------------------------------------------ route

  function renderNotFound() {
    show('tpl-not-found', 'Page not found');
    document.getElementById('not-found-path').textContent = window.location.pathname;
  }

  function route() {
    var path = window.location.pathname.replace(/\/+$/, '') || '/';
    if (path === '/' || path === '/index.html') renderHome();
    else if (path === '/logged-in') renderLoggedIn();
    else if (path === '/error') renderError();
    else renderNotFound();
  }

  route();
})();
