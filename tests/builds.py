"""Helpers for module fixtures that convert and compile models: build only what the selected
tests use, two g++ builds at a time."""


def selected_params(request, *argnames) -> list:
    """The values of `argnames` in the tests of the requesting module that this session runs
    (after -k/-m selection) and that are marked cpp, in order, without repeats: lets a module
    fixture compile only what the selected tests use."""
    seen = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (getattr(item, "module", None) is request.module and item.get_closest_marker("cpp")
                and all(a in params for a in argnames)):
            value = tuple(params[a] for a in argnames)
            if value not in seen:
                seen.append(value)
    return seen


def run_two_at_a_time(jobs) -> None:
    """Run callables (g++ builds, mostly) two at a time, on the machine's two cores."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: job(), jobs))
