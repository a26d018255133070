"""Subscriber registry: dense ids, consent log and derived status, forget with suppression."""

from __future__ import annotations

import trio

from counters import ConsentKind, ConsentResult, Store


async def test_ids_are_dense_and_created_once_under_concurrency(store: Store) -> None:
    numbers = [f"+3160000{n:04d}" for n in range(200)]
    seen: dict[str, set[int]] = {}

    async def resolve(offset: int) -> None:
        for number in numbers[offset:] + numbers[:offset]:
            seen.setdefault(number, set()).add(await store.subscribers.id(number))

    async with trio.open_nursery() as nursery:
        for offset in range(0, 200, 20):
            nursery.start_soon(resolve, offset)
    assert all(len(ids) == 1 for ids in seen.values())
    assert sorted(next(iter(ids)) for ids in seen.values()) == list(range(1, 201))
    by_id = await store.subscribers.ids(numbers)
    assert await store.subscribers.numbers([*by_id, 999]) == [*numbers, None]
    assert await store.subscribers.id("+31699999999", create=False) == 0
    assert await store.subscribers.ids(["+31699999999"], create=False) == [0]


async def test_consent_log_drives_status(store: Store) -> None:
    subs = store.subscribers
    first = await subs.subscribe(
        "+31612345678", source="sms", text="START", message_id="m1", route="kpn/tx1", language="nl"
    )
    assert first == ConsentResult(1, was_active=False)
    assert await subs.is_active(1)
    assert (await subs.subscribe("+31612345678", source="sms", text="AAN")).was_active
    assert await subs.route(1) == "kpn/tx1"
    assert await subs.language(1) == "nl"
    assert await subs.active_count() == 1
    stop = await subs.unsubscribe("+31612345678", source="sms", text="STOP", message_id="m3")
    assert stop == ConsentResult(1, was_active=True)
    assert not await subs.is_active(1)
    history = await subs.history("+31612345678")
    assert [(e.kind, e.text, e.subscriber) for e in history] == [
        (ConsentKind.SUBSCRIBE, "START", 1),
        (ConsentKind.SUBSCRIBE, "AAN", 1),
        (ConsentKind.UNSUBSCRIBE, "STOP", 1),
    ]
    assert history[0].message_id == "m1"
    assert history[0].source == "sms"
    assert await subs.log(after=history[0].entry_id) == history[1:]


async def test_active_ids_walks_the_bitmap(store: Store) -> None:
    subs = store.subscribers
    for n in range(1, 21):
        await subs.subscribe(f"+316{n:08d}", source="web")
    await subs.unsubscribe("+31600000005", source="sms")
    chunks = [ids async for ids in subs.active_ids(chunk_bytes=1)]
    assert [i for chunk in chunks for i in chunk] == [i for i in range(1, 21) if i != 5]


async def test_forget_erases_and_blocks_reimport(store: Store) -> None:
    subs = store.subscribers
    number = "+31687654321"
    subscriber = (await subs.subscribe(number, source="sms", text="START", route="vf/1")).subscriber
    await store.appeals.mark_received([subscriber], 4)
    await store.appeals.sign(4, subscriber, text="JA", message_id="x")
    assert await subs.forget(number, source="operator", message_id="ticket-1") == subscriber
    assert await subs.id(number, create=False) == 0
    assert await subs.numbers([subscriber]) == [None]
    assert not await subs.is_active(subscriber)
    assert await subs.route(subscriber) == ""
    assert await store.appeals.last_received(subscriber) == 0
    assert await subs.history(number) == []
    log = await subs.log()
    assert [(e.kind, e.number, e.number_hash) for e in log] == [
        (ConsentKind.FORGET, "", subs.number_hash(number))
    ]
    assert await store.appeals.count(4) == 1  # the count stands; the signature is now anonymous
    imported = await subs.import_numbers([number, "+31600000001"], source="list.csv")
    assert [r.refused for r in imported] == [True, False]
    assert await subs.is_pending(imported[1].subscriber)  # until the person confirms by text
    assert not await subs.is_active(imported[1].subscriber)
    assert await subs.id(number, create=False) == 0
    again = await subs.subscribe(number, source="sms", text="START")  # the person's own choice
    assert again.subscriber not in (0, subscriber)
    assert await subs.forget("+31000000000", source="operator") == 0


async def test_an_import_is_pending_until_the_person_confirms(store: Store) -> None:
    subs = store.subscribers
    await subs.subscribe("+31600000002", source="sms", text="START")
    imported = await subs.import_numbers(["+31600000001", "+31600000002"], source="list.csv")
    assert [r.was_active for r in imported] == [False, True]
    assert await subs.counts() == (1, 1, 0)  # the active one stays active, not pending
    await subs.subscribe("+31600000001", source="sms", text="AAN")
    assert await subs.counts() == (2, 0, 0)
    await subs.unsubscribe("+31600000001", source="sms", text="STOP")
    assert await subs.counts() == (1, 0, 1)
    kinds = [e.kind for e in await subs.history("+31600000001")]
    assert kinds == [ConsentKind.PENDING, ConsentKind.SUBSCRIBE, ConsentKind.UNSUBSCRIBE]
