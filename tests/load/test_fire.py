"""The firing loop's runner: how a burst is started and stopped."""


def test_sigterm_stops_a_run_as_ctrl_c_does_and_the_handler_is_put_back() -> None:
    import asyncio
    import os
    import signal

    import pytest

    from lab.cli.output import interrupt_on_sigterm
    from lab.load.fire import run

    async def wait_for_ever() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)

    with interrupt_on_sigterm():
        ours = signal.getsignal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):  # the loop cancelled the coroutine: it did not land in a C callback
            run(wait_for_ever())
        assert signal.getsignal(signal.SIGTERM) is ours, "the CLI's handler is back for what runs next"
