// What a web build of the app sees of the walk-together socket: its messages and its CloseEvent.
window.walk = { messages: [], close: null, errors: 0 };

window.openWalk = function (url) {
  const socket = new WebSocket(url);
  socket.onmessage = (event) => {
    window.walk.messages.push(JSON.parse(event.data));
    document.getElementById("state").textContent = "open";
  };
  socket.onerror = () => {
    window.walk.errors += 1;
  };
  socket.onclose = (event) => {
    window.walk.close = { code: event.code, wasClean: event.wasClean };
    document.getElementById("state").textContent = "closed " + event.code;
  };
};
