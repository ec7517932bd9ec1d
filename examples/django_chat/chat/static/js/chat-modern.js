/* The same room on socket.io-client 4.x: the /chat namespace and its events do not change. */
(() => {
  'use strict';

  const $ = (selector) => document.querySelector(selector);
  const chat = $('#chat');
  const room = chat.dataset.room;
  let nickname = null;

  if (!window.io) {
    $('#status').dataset.state = 'error';
    $('#status').textContent = 'not installed';
    return;
  }

  const addLine = (className, ...parts) => {
    const item = document.createElement('li');
    item.className = className;
    item.append(...parts);
    $('#messages').append(item);
    $('#messages').scrollTop = $('#messages').scrollHeight;
  };
  const bold = (text) => Object.assign(document.createElement('b'), { className: 'from', textContent: text });
  const span = (text) => Object.assign(document.createElement('span'), { className: 'text', textContent: text });
  const messageLine = (from, text, mine) => addLine(mine ? 'message mine' : 'message', bold(from), span(text));
  const setStatus = (state, text) => { $('#status').dataset.state = state; $('#status').textContent = text; };

  const ready = (name) => {
    nickname = name;
    $('#nickname-form').hidden = true;
    $('#nickname-error').hidden = true;
    $('#message-form').hidden = false;
    $('#message-input').focus();
  };
  const askNickname = (taken) => {
    $('#nickname-form').hidden = false;
    $('#nickname-error').hidden = !taken;
    $('#message-form').hidden = true;
    $('#nickname-input').focus();
  };

  const socket = io('/chat');
  window.chat = { socket, room };

  const claimNickname = (wanted) => socket.emit('nickname', wanted, (ok) => {
    if (ok) { ready(wanted); } else { nickname = null; askNickname(true); }
  });

  socket.on('connect', () => {
    setStatus('connected', 'connected');
    $('#nickname-submit').disabled = false;
    socket.emit('join', room, (ok, given) => {
      if (given) { ready(given); } else if (nickname) { claimNickname(nickname); } else { askNickname(false); }
    });
  });
  socket.on('disconnect', () => { setStatus('disconnected', 'disconnected'); addLine('system', 'Disconnected from the server'); });
  socket.on('announcement', (text) => addLine('announcement', text));
  socket.on('system_message', (text) => addLine('system-message', bold('System'), span(text)));
  socket.on('msg_to_room', (from, text) => messageLine(from, text, false));
  socket.on('nicknames', (names) => {
    $('#nicknames').replaceChildren(...names.map((name) => {
      const item = document.createElement('li');
      item.textContent = name;
      item.classList.toggle('me', name === nickname);
      return item;
    }));
  });

  $('#nickname-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = $('#nickname-input').value.trim();
    if (wanted) claimNickname(wanted);
  });
  $('#message-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('#message-input').value;
    if (!text.trim()) return;
    messageLine(nickname, text, true);
    socket.emit('user message', text);
    $('#message-input').value = '';
  });
  const systemForm = $('#system-form');
  if (systemForm) {
    systemForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const response = await fetch(chat.dataset.systemUrl, { method: 'POST', body: new FormData(systemForm) });
      if (response.ok) { $('#system-input').value = ''; } else { addLine('system', `Could not post: ${response.status}`); }
    });
  }
})();
