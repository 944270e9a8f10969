import { pagePolicy, scriptHash } from '../http/security-headers';

/** GET /matrix: a small page to try the endpoints (register, then talk to the room over the WebSocket). */
export const MATRIX_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QChat ⇄ Matrix</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 1rem auto; padding: 0 1rem; }
  form { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: .75rem; }
  input { flex: 1 1 12rem; padding: .3rem; }
  table { width: 100%; border-collapse: collapse; } td { border-top: 1px solid #ddd; padding: .25rem; vertical-align: top; }
  .admin { background: #fff6d6; }
</style>
</head>
<body>
<h1>QChat ⇄ Matrix</h1>
<form id="settings">
  <input id="homeserver" placeholder="Homeserver, e.g. https://matrix.example.org" required>
  <input id="room" placeholder="Room id, e.g. !abc:example.org" required>
  <input id="user" placeholder="User" required>
  <input id="password" type="password" placeholder="Password" required>
  <button id="connect">Connect</button>
</form>
<form id="composer">
  <input id="text" placeholder="Your message" disabled>
  <button id="send" disabled>Send</button>
</form>
<table><tbody id="messages"></tbody></table>
<script>
  const $ = (id) => document.getElementById(id);
  const ssl = location.protocol === 'https:';
  let ws = null;
  function show(timestamp, author, text, admin) {
    const row = document.createElement('tr');
    if (admin) row.className = 'admin';
    for (const value of [new Date(timestamp * 1000).toLocaleTimeString(), author, text]) {
      const cell = document.createElement('td');
      cell.textContent = value;
      row.appendChild(cell);
    }
    $('messages').prepend(row);
  }
  const admin = (text) => show(Date.now() / 1000, 'Admin', text, true);
  function connected(on) {
    for (const id of ['homeserver', 'room', 'user', 'password']) $(id).disabled = on;
    $('text').disabled = !on; $('send').disabled = !on;
    $('connect').textContent = on ? 'Disconnect' : 'Connect';
  }
  $('settings').onsubmit = async (event) => {
    event.preventDefault();
    if (ws) { ws.close(); return; }
    const res = await fetch('/matrix/register', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ homeserver: $('homeserver').value, room_id: $('room').value, user: $('user').value, password: $('password').value }),
    });
    if (!res.ok) { admin('Registration refused: HTTP ' + res.status); return; }
    const { request_id } = await res.json();
    ws = new WebSocket((ssl ? 'wss://' : 'ws://') + location.host + '/matrix/' + request_id + '/ws');
    ws.onopen = () => { connected(true); admin('Connected'); };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === 'text') show(frame.timestamp, frame.author, frame.text);
      else if (frame.type === 'uncompliant') admin('Uncompliant: ' + frame.reason);
    };
    ws.onclose = (event) => { ws = null; connected(false); admin('Disconnected (' + event.code + (event.reason ? ': ' + event.reason : '') + ')'); };
  };
  $('composer').onsubmit = (event) => {
    event.preventDefault();
    if (!ws || !$('text').value) return;
    ws.send(JSON.stringify({ type: 'text', author: $('user').value, text: $('text').value }));
    $('text').value = '';
  };
</script>
</body>
</html>
`;

/** The page's policy: exactly its inline script (by hash), its inline styles, WebSockets to this host. */
export const MATRIX_PAGE_CSP = pagePolicy({ 'script-src': scriptHash(MATRIX_PAGE.slice(MATRIX_PAGE.indexOf('<script>') + '<script>'.length, MATRIX_PAGE.indexOf('</script>'))) });
