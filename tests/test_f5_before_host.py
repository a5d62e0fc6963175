"""F5 before the host never fails (issue 18, point 4): 100 launches, four at a time, each an IDE
on the attach port before the host runs, `initialize` and `attach` sent together as VS Code does,
then a real debugpy host announcing itself through attach_ready; under load (two busy
processes). See tests/f5_before_host.py (also a script, for more launches and debugpy's logs).

The failure this guards against: attachd relayed the IDE the moment debugpy's adapter listened,
before the adapter could take it; the `attach` died inside the adapter and the IDE got an end of
file. attach_ready now says READY=1 once debugpy.listen() has returned.
"""
from f5_before_host import run


def test_a_hundred_f5_before_the_host(attachd_bin_dir):
    failures, launches, seconds, stories = run(100, load=2, bin_dir=attachd_bin_dir, parallel=4)
    assert failures == 0, "%d/%d F5 before the host failed:\n%s" % (
        failures, launches, "\n".join("--- launch %d\n%s" % s for s in stories)[-20000:])
