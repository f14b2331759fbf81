-- wrk: one Dovecot event-exporter event per POST /v1/events, as Dovecot's
-- JSON exporter sends them (format = json, format_args = time-rfc3339,
-- exporter_include at its default: name hostname timestamps categories fields).
--
--   node bin/tallyd.js serve &
--   wrk -t1 -c1 -d10s -s bench/e2e/one-event.lua http://127.0.0.1:9900/v1/events
--   wrk -t2 -c8 -d10s -s bench/e2e/one-event.lua http://127.0.0.1:9900/v1/events
--
-- wrk prints "Non-2xx or 3xx responses" when any answer was not 200.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"event":"imap_command_finished","hostname":"mx1.example.net",' ..
  '"start_time":"2026-12-03T11:00:00.123456Z","end_time":"2026-12-03T11:00:00.125690Z",' ..
  '"categories":["imap"],' ..
  '"fields":{"user":"user17@example.net","session":"Qx7yZ9k1AAB/AAAB",' ..
  '"local_ip":"127.0.0.1","local_port":143,"remote_ip":"192.0.2.17","remote_port":51514,' ..
  '"cmd_tag":"A0042","cmd_name":"FETCH","cmd_input_name":"UID FETCH",' ..
  '"cmd_args":"1:* (FLAGS)","cmd_human_args":"1:* (FLAGS)",' ..
  '"tagged_reply_state":"OK","tagged_reply":"OK Fetch completed (0.002 + 0.000 + 0.001 secs).",' ..
  '"last_run_time":"2026-12-03T11:00:00.125690Z","running_usecs":2100,"lock_wait_usecs":12,' ..
  '"bytes_in":31,"bytes_out":4210,"net_in_bytes":31,"net_out_bytes":4210,"duration":2234}}'


done = function(summary, latency, requests)
  io.write(string.format("requests %d, p50 %.3f ms, p99 %.3f ms, socket errors %d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
