/* A chat room: socket.io-client 0.9.16 talking to the /chat namespace (chat/sockets.py).
 *
 * A logged-in user's nickname comes from the server, which reads it from the Django session
 * when the page joins the room; anyone else picks one. Staff may post a system message to the
 * room (a Django view that emits it through tornio's Emitter).
 */
(function () {
  'use strict';

  var $ = window.jQuery;
  var $chat = $('#chat');
  var room = $chat.data('room');
  var socket = null; // connected once the page has loaded: see the end of this file
  var nickname = null; // set once the server gave or accepted one

  if (!window.io) {
    $('#status').attr('data-state', 'error').text('not installed');
    $('<li class="system error">').text('The browser libraries did not load: run ./run (it ' +
      'installs them with npm), then reload this page.').appendTo('#messages');
    return;
  }

  // -- the page ------------------------------------------------------------------------------

  function addLine(className, content) {
    var $list = $('#messages');
    $('<li>').addClass(className).append(content).appendTo($list);
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

  function ready(name) {
    nickname = name;
    $('#nickname-form').prop('hidden', true);
    $('#nickname-error').prop('hidden', true);
    $('#message-form').prop('hidden', false);
    $('#message-input').trigger('focus');
  }

  function askNickname(taken) {
    $('#nickname-form').prop('hidden', false);
    $('#nickname-error').prop('hidden', !taken);
    $('#message-form').prop('hidden', true);
    $('#nickname-input').trigger('focus').trigger('select');
  }

  function claimNickname(wanted) {
    socket.emit('nickname', wanted, function (ok) {
      if (ok) {
        ready(wanted);
      } else {
        nickname = null;
        askNickname(true);
      }
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

  // Staff: a system message, posted to a Django view (it comes back over the socket).
  $('#system-form').on('submit', function (event) {
    event.preventDefault();
    var $input = $('#system-input');
    $.post($chat.data('system-url'), $(this).serialize())
      .done(function () { $input.val(''); })
      .fail(function (xhr) { systemLine('Could not post: ' + xhr.status + ' ' + xhr.responseText); });
  });

  // -- the server ----------------------------------------------------------------------------

  function connect() {
    socket = io.connect('/chat');
    window.chat = { socket: socket, room: room }; // for the tests and the curious

    // 'connect' fires again after every reconnection (a new session on the server): join the
    // room again; the server names a logged-in user, anyone else takes their nickname back.
    socket.on('connect', function () {
      setStatus('connected', 'connected');
      $('#nickname-submit').prop('disabled', false);
      socket.emit('join', room, function (ok, given) {
        if (given) {
          ready(given);
        } else if (nickname) {
          claimNickname(nickname);
        } else {
          askNickname(false);
        }
      });
    });

    socket.on('announcement', function (text) {
      addLine('announcement', document.createTextNode(text));
    });

    socket.on('system_message', function (text) {
      addLine('system-message', [$('<b class="from">').text('System'), $('<span class="text">').text(text)]);
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

    socket.on('error', function (reason, message) {
      systemLine('Error: ' + (reason || 'an unknown error occurred') +
        (message ? ' (' + message + ')' : ''));
    });
  }

  if (document.readyState === 'complete') {
    connect();
  } else {
    window.addEventListener('load', connect);
  }
})();
