"""The load generator's event stream: deterministic, right mix, deletes of earlier ids."""

from moodstream_dev.loadgen import LoadConfig, expected_live, generate, load_config


def test_same_seed_same_events():
    config = LoadConfig(count=300, seed=3)
    strip = lambda events: [{k: v for k, v in e.items() if k != "timestamp"} for e in events]  # noqa: E731
    assert strip(generate(config)) == strip(generate(config))


def test_update_ratio_and_deletes_target_earlier_ids():
    config = LoadConfig(count=4_000, update_ratio=0.75, seed=1)
    seen: set[str] = set()
    deletes = 0
    for event in generate(config):
        if event["type"] == "delete":
            deletes += 1
            assert event["id"] in seen
        else:
            assert event["text"]
            seen.add(event["id"])
    assert 0.2 < deletes / config.count < 0.3


def test_expected_live_matches_replaying_the_events():
    config = LoadConfig(count=1_000, seed=5)
    live: set[str] = set()
    for event in generate(config):
        (live.discard if event["type"] == "delete" else live.add)(event["id"])
    assert expected_live(config) == len(live) > 0


def test_yaml_config_and_flag_overrides(tmp_path):
    path = tmp_path / "load.yaml"
    path.write_text("count: 50\nrate: 10\nvia: topic\n")
    config = load_config(path, {"rate": 99, "seed": None})
    assert (config.count, config.rate, config.via, config.seed) == (50, 99, "topic", 7)


def test_unknown_yaml_setting_is_an_error(tmp_path):
    path = tmp_path / "load.yaml"
    path.write_text("cout: 50\n")
    try:
        load_config(path, {})
    except ValueError as exc:
        assert "cout" in str(exc)
    else:
        raise AssertionError("unknown key accepted")


def test_recent_limits_deletes_and_replacements_to_the_newest_ids():
    from moodstream_dev.loadgen import LoadConfig, generate

    config = LoadConfig(count=3_000, seed=7, id_prefix="r", recent=20)
    created: list[str] = []
    for event in generate(config):
        number = int(event["id"].split("_")[1])
        if event["type"] == "update" and event["id"] not in created:
            created.append(event["id"])
            continue
        # A delete or a replacement: its target is among the newest ids created so far.
        newest = int(created[-1].split("_")[1])
        assert newest - number < 20 + config.count // 4, event
    assert len(created) > 1_000


def test_a_batch_answered_503_is_sent_again_after_retry_after():
    import asyncio

    import httpx

    from moodstream_dev.loadgen import LoadSummary, _post_batch

    bodies: list[bytes] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) < 3:  # the broker is away twice, then back
            return httpx.Response(503, headers={"Retry-After": "0"},
                                  json={"reason": "broker_unavailable"})
        return httpx.Response(200, json={"accepted": 2, "rejected": 0})

    async def post() -> tuple[httpx.Response, LoadSummary]:
        summary = LoadSummary()
        async with httpx.AsyncClient(transport=httpx.MockTransport(ingest),
                                     base_url="http://ingest") as client:
            response = await _post_batch(client, [{"id": "a"}, {"id": "b"}], summary)
        return response, summary

    response, summary = asyncio.run(post())
    assert response.status_code == 200
    assert summary.retried == 4  # two events, sent again twice
    assert len(set(bodies)) == 1 and len(bodies) == 3  # the same events each time
