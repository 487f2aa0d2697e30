// The admin console's API client: the shared client (../shared/api.js) with the admin
// console's own token.
import { createClient } from "../shared/api.js";

export { ApiError } from "../shared/api.js";

export const { api, getToken, setToken, setUnauthorizedHandler } = createClient("switchboard.admin.token");
