"""aichat (the Rust peer) configured for the project's simulator: shared by ask_bench.py and
tui_bench.py. aichat reads its config from AICHAT_CONFIG_DIR; the simulator is an
OpenAI-compatible client named `sim`, answering as moonshotai/kimi-k2."""

import os


def config_dir(parent, url, name="aichat"):
    """Write aichat's config for the simulator at `url` under `parent`; return the folder."""
    conf = os.path.join(parent, name)
    os.makedirs(conf)
    with open(os.path.join(conf, "config.yaml"), "w") as f:
        f.write("model: sim:moonshotai/kimi-k2\nstream: true\nsave: false\n"
                "clients:\n- type: openai-compatible\n  name: sim\n"
                f"  api_base: {url}\n  api_key: k\n"
                "  models:\n  - name: moonshotai/kimi-k2\n")
    return conf
