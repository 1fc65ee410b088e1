// The web terminal's glue: xterm.js (from the npm registry, see
// omsh/web/assets.json) on one side, the server's WebSocket on the other.
// Keystrokes and sizes go up as JSON; the shell's output comes down as bytes.
"use strict";
(function () {
  const box = document.getElementById("terminal");
  const term = new Terminal({ cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ csrf: box.dataset.csrf, cols: term.cols, rows: term.rows });
  const socket = new WebSocket(`${scheme}://${location.host}/_omsh/terminal/socket?${query}`);
  socket.binaryType = "arraybuffer";
  const send = (message) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };
  socket.onmessage = (event) => term.write(new Uint8Array(event.data));
  socket.onclose = () => {
    term.write("\r\n[session closed]\r\n");
    box.dataset.closed = "yes";
  };
  term.onData((data) => send({ input: data }));
  term.onResize(({ cols, rows }) => send({ resize: [cols, rows] }));
  window.addEventListener("resize", () => fit.fit());
  term.focus();
})();
