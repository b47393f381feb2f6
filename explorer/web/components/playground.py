"""The playground's canvas: panels in a plane, curves and a status line, drawn in the browser from one compact
scene per update (explorer/playground/scenes.py), so an update ships a few tens of kilobytes and no plotting library
redraws. While the scene says the run is playing, the canvas asks its server function `tick` for the next scene
(playground.js): no Gradio event per update, so the page's event bookkeeping stays idle while a run trains."""
import asyncio

import gradio as gr

from explorer.web.components import asset

JS = asset("playground.js")
TEMPLATE = ('<div class="vx-pg"><p class="vx-pg-status" role="status">paused: press play</p>'
            '<div class="vx-pg-panels"></div><div class="vx-pg-curves"></div></div>')


def playground_canvas(elem_id: str, tick) -> gr.HTML:
    """`tick(session) -> scene`: the next scene of the tab whose session is `session`."""
    async def tick_request(_, request: gr.Request):
        # Gradio hands a server function the HTTP request (a starlette Request); its JSON body names the tab's
        # session, as every Gradio event's does. The tick itself waits for a slice of training: in a thread, so
        # the server's event loop goes on answering everyone else meanwhile.
        session = (await request.json()).get("session_hash") or ""
        return await asyncio.to_thread(tick, session)
    tick_request.__name__ = "tick"  # the JavaScript calls server.tick
    return gr.HTML("", html_template=TEMPLATE, js_on_load=JS, elem_id=elem_id, min_height=560,
                   server_functions=[tick_request])
