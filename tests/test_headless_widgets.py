"""scripts/headless_widgets.py: nbclient's Output-widget stand-in keeps outputs but no longer echoes them."""
import nbformat
from nbclient import NotebookClient
from nbclient.output_widget import OutputWidget

import headless_widgets


class _Refuses:
    """A shell channel that fails the test if anything is sent on it."""

    def send(self, msg):
        raise AssertionError("the Output widget stand-in sent a message to the kernel")


class _Client:
    shell_channel = _Refuses()
    session = None


def test_output_widget_keeps_its_outputs_without_echoing_them():
    headless_widgets.install()
    executor = type("Executor", (), {"widget_state": {"c1": {"outputs": []}}})()
    widget = OutputWidget("c1", {"outputs": []}, _Client(), executor)
    msg = {"parent_header": {}, "header": {"msg_type": "stream"}, "msg_type": "stream",
           "content": {"name": "stdout", "text": "hello"}}
    widget.output([], msg, None, 0)
    assert executor.widget_state["c1"]["outputs"][0]["text"] == "hello"


def test_a_notebook_with_an_explore_widget_runs_and_records_the_widget_outputs(tmp_path):
    headless_widgets.install()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfrom mmcourse.widgets import explore\n"
        "def draw(k=1):\n    fig, ax = plt.subplots()\n    ax.plot([0, k])\n    return fig\n"
        "explore(draw, k=(1, 3, 1))")])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"].get("outputs") for m in state.values() if m["model_name"] == "OutputModel"]
    assert outputs and any("Figure" in str(o.get("data", {})) for o in outputs[0])  # the drawn figure
