/* The chat page: socket.io-client 0.9.16 talking to tornio's /chat namespace.
 *
 * URL parameters:
 *   ?room=kitchen              the room to talk in (default: lobby)
 *   ?transport=xhr-polling     force the client's transports (comma-separated), e.g.
 *                              websocket, xhr-polling, jsonp-polling
 */
(function () {
  'use strict';

  function queryParam(name) {
    var pairs = window.location.search.replace(/^\?/, '').split('&');
    for (var i = 0; i < pairs.length; i++) {
      var eq = pairs[i].indexOf('=');
      var key = eq < 0 ? pairs[i] : pairs[i].slice(0, eq);
      if (decodeURIComponent(key) === name) {
        return eq < 0 ? '' : decodeURIComponent(pairs[i].slice(eq + 1).replace(/\+/g, ' '));
      }
    }
    return null;
  }

  var room = queryParam('room') || 'lobby';
  document.getElementById('room-name').textContent = room;

  // Without jQuery and the Socket.IO client there is nothing to do but say why.
  if (!window.jQuery || !window.io) {
    var status = document.getElementById('status');
    status.textContent = 'not installed';
    status.setAttribute('data-state', 'error');
    var item = document.createElement('li');
    item.className = 'system error';
    item.textContent = 'The browser libraries did not load. Run scripts/chat from the ' +
      'repository root (it installs them with npm), then reload this page.';
    document.getElementById('messages').appendChild(item);
    return;
  }

  var $ = window.jQuery;
  var options = {};
  var transport = queryParam('transport');
  if (transport) {
    options.transports = transport.split(',');
  }
  var socket = null; // connected once the page has loaded: see the end of this file
  var nickname = null; // set once the server accepted it

  // -- the page ------------------------------------------------------------------------------

  function addLine(className, $content) {
    var $list = $('#messages');
    $('<li>').addClass(className).append($content).appendTo($list);
    $list.scrollTop($list.prop('scrollHeight'));
  }

  function systemLine(text) {
    addLine('system', document.createTextNode(text));
  }

  function messageLine(from, text, mine) {
    addLine(mine ? 'message mine' : 'message', [
      $('<b class="from">').text(from),
      $('<span class="text">').text(text)
    ]);
  }

  function setStatus(state, text) {
    $('#status').attr('data-state', state).text(text);
  }

  function showNicknameForm(taken) {
    $('#nickname-form').prop('hidden', false);
    $('#nickname-error').prop('hidden', !taken);
    $('#message-form').prop('hidden', true);
    $('#nickname-input').trigger('focus').trigger('select');
  }

  function claimNickname(wanted) {
    socket.emit('nickname', wanted, function (ok) {
      if (!ok) {
        nickname = null;
        showNicknameForm(true);
        return;
      }
      nickname = wanted;
      $('#nickname-form').prop('hidden', true);
      $('#nickname-error').prop('hidden', true);
      $('#message-form').prop('hidden', false);
      $('#message-input').trigger('focus');
    });
  }

  $('#nickname-form').on('submit', function (event) {
    event.preventDefault();
    var wanted = $.trim($('#nickname-input').val());
    if (wanted) {
      claimNickname(wanted);
    }
  });

  $('#message-form').on('submit', function (event) {
    event.preventDefault();
    var $input = $('#message-input');
    var text = $input.val();
    if (!$.trim(text)) {
      return;
    }
    messageLine(nickname, text, true);
    socket.emit('user message', text);
    $input.val('').trigger('focus');
  });

  // -- the server ----------------------------------------------------------------------------

  function connect() {
    socket = io.connect('/chat', options);
    // For the tests and the curious: chat.socket.socket.transport.name is the transport in use.
    window.chat = { socket: socket, room: room };

    // 'connect' fires on the first connection and again after every reconnection (a new
    // session on the server): join the room again and take the nickname back.
    socket.on('connect', function () {
      setStatus('connected', 'connected');
      $('#nickname-submit').prop('disabled', false);
      socket.emit('join', room);
      if (nickname) {
        claimNickname(nickname);
      }
    });

    socket.on('announcement', function (text) {
      addLine('announcement', document.createTextNode(text));
    });

    socket.on('nicknames', function (names) {
      var $list = $('#nicknames').empty();
      $.each(names, function (_, name) {
        $('<li>').text(name).toggleClass('me', name === nickname).appendTo($list);
      });
    });

    socket.on('msg_to_room', function (from, text) {
      messageLine(from, text, false);
    });

    socket.on('disconnect', function () {
      setStatus('disconnected', 'disconnected');
      systemLine('Disconnected from the server');
    });

    socket.on('reconnecting', function (delay, attempt) {
      setStatus('reconnecting', 'reconnecting…');
      systemLine('Attempting to re-connect to the server (attempt ' + attempt + ')');
    });

    socket.on('reconnect', function () {
      systemLine('Reconnected to the server');
    });

    socket.on('reconnect_failed', function () {
      setStatus('disconnected', 'offline');
      systemLine('Could not reconnect to the server: reload the page to try again');
    });

    socket.on('connect_failed', function () {
      setStatus('disconnected', 'offline');
      systemLine('Could not connect to the server');
    });

    // The client's own errors carry a reason; the server's error events a name and a message.
    socket.on('error', function (reason, message) {
      systemLine('Error: ' + (reason || 'an unknown error occurred') +
        (message ? ' (' + message + ')' : ''));
    });
  }

  // Connect once the page has loaded: a long poll started earlier (jsonp-polling's script tags)
  // would keep the browser's loading indicator spinning, and the page's load event waiting.
  if (document.readyState === 'complete') {
    connect();
  } else {
    window.addEventListener('load', connect);
  }
})();
