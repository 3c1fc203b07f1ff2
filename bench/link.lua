-- wrk script for scenario 2: every request creates a Connect Link (a new INITIATED account) in
-- the session named by the URL. The API key comes with wrk's -H option.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"toolkit":"github","callback_url":"https://app.example/cb"}'
