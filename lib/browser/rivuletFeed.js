/*
 * rivuletFeed: the page side of `webSocketBroadcast`, for dashboards. Plain browser JavaScript,
 * no build step and no Node modules: load rxjs's UMD bundle (node_modules/rxjs/dist/bundles/
 * rxjs.umd.min.js, which defines the global `rxjs`), then this file, which defines the global
 * `rivuletFeed`.
 *
 *   <script src="/assets/rxjs.umd.min.js"></script>
 *   <script src="/assets/rivuletFeed.js"></script>
 *   <script>
 *     rivuletFeed('ws://' + location.host + '/feed', { onStatus: showStatus })
 *       .subscribe(function (message) { render(message); });
 *   </script>
 *
 * rivuletFeed(url, options) returns an rxjs Observable built on `rxjs.webSocket.webSocket`: every
 * message is parsed as JSON. A close with code 1000 (the server finished its stream) completes
 * it. Any other ending (the server went away with 1001, refused a slow page with 1013, the
 * network dropped, a message was not JSON) reconnects after a backoff that doubles from
 * `initialDelayMs` (500) up to `maxDelayMs` (30 000) and starts over once a message arrives; a
 * reconnected page receives the server's replay or snapshot first, so it redraws from there.
 *
 * Options: initialDelayMs, maxDelayMs, maxRetries (Infinity), onStatus(status, detail) called
 * with 'open', 'closed' (detail: the close code) and 'reconnecting' (detail: the delay in ms),
 * WebSocketCtor (a WebSocket class, where there is no global one).
 */
(function (root) {
  'use strict';

  function rivuletFeed(url, options) {
    var rx = root.rxjs;
    if (!rx || !rx.webSocket) throw new Error('rivuletFeed: load rxjs.umd.min.js before rivuletFeed.js');
    options = options || {};
    var initialDelayMs = options.initialDelayMs > 0 ? options.initialDelayMs : 500;
    var maxDelayMs = options.maxDelayMs > 0 ? options.maxDelayMs : 30000;
    var maxRetries = options.maxRetries >= 0 ? options.maxRetries : Infinity;
    var onStatus = typeof options.onStatus === 'function' ? options.onStatus : function () {};

    // One connection: rxjs's subject completes on any clean close, but only 1000 means "done".
    var connection = new rx.Observable(function (subscriber) {
      var closeCode = null;
      var config = {
        url: url,
        deserializer: function (event) {
          return JSON.parse(event.data);
        },
        openObserver: {
          next: function () {
            onStatus('open');
          },
        },
        closeObserver: {
          next: function (event) {
            closeCode = event.code;
            onStatus('closed', event.code);
          },
        },
      };
      if (options.WebSocketCtor) config.WebSocketCtor = options.WebSocketCtor;
      return rx.webSocket.webSocket(config).subscribe({
        next: function (message) {
          subscriber.next(message);
        },
        error: function (error) {
          subscriber.error(error);
        },
        complete: function () {
          if (closeCode === 1000) subscriber.complete();
          else subscriber.error(new Error('rivuletFeed: ' + url + ' closed with code ' + closeCode));
        },
      });
    });

    return connection.pipe(
      rx.retry({
        count: maxRetries,
        resetOnSuccess: true,
        delay: function (_error, attempt) {
          var delayMs = Math.min(maxDelayMs, initialDelayMs * Math.pow(2, attempt - 1));
          onStatus('reconnecting', delayMs);
          return rx.timer(delayMs);
        },
      }),
    );
  }

  root.rivuletFeed = rivuletFeed;
})(typeof globalThis !== 'undefined' ? globalThis : this);
