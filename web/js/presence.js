// "N watching": a channel's `presence` message (docs/protocol.md) shown in an element.
//
//   const presence = bindPresence(document.querySelector("#watching"));
//   socket.subscribe(channel, (msg) => {
//     if (presence(msg)) return; // it was the count
//     ...the page's own messages
//   });
//
// The server sends the count right after each subscribe's snapshot, then when it changes (at
// most every 5 s); the message has no seq, so socket.js hands it straight to the channel's handler.

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }); // 1,204 like the amounts (money.js)

// "1 watching", "1,204 watching"; "" for anything that is not a count.
export function watchingText(n) {
  return Number.isSafeInteger(n) && n >= 0 ? `${number.format(n)} watching` : "";
}

// A channel handler's first step: shows a presence message's count in `element` (hidden until
// the first count, and when a count is unusable) and answers true; any other message: false.
export function bindPresence(element) {
  return (msg) => {
    if (!msg || msg.type !== "presence") return false;
    if (element) {
      const text = watchingText(msg.watching);
      if (element.textContent !== text) element.textContent = text;
      element.hidden = text === "";
      element.dataset.watching = text === "" ? "" : String(msg.watching);
    }
    return true;
  };
}
