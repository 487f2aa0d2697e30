// The agent console's API client: the shared client (../shared/api.js) with the agent
// console's own token.
import { createClient } from "../shared/api.js";

export { ApiError, clientId } from "../shared/api.js";

export const { api, getToken, setToken, setUnauthorizedHandler } = createClient("switchboard:agent:token");
